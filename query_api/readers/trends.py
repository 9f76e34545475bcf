"""Trends: a metric's value in the period, in the preceding period of equal length, the change, and its
series. ``GET /analytics/trends/{user_id}`` and the dashboard's ``trends`` block."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from query_api.formulas import change_percentage, trend_of
from query_api.periods import ParameterError, Range, points
from query_api.rollup_sql import Scope, as_point, point_expression, source
from query_api.store import QueryStore
from schemas.rollups import rollup


@dataclass(frozen=True)
class TrendMetric:
    """A trend metric: which rollup, which merge expression, and an optional row condition."""

    name: str
    rollup: str
    expression: str
    where: str = ""
    digits: int = 0


TREND_METRICS: dict[str, TrendMetric] = {
    m.name: m
    for m in (
        TrendMetric("events", "user_events", "sum(events)"),
        TrendMetric("sessions", "user_events", "uniqExactMerge(sessions)"),
        TrendMetric("page_views", "page_views", "sum(views)"),
        TrendMetric("errors", "user_events", "sum(events)", "event_type = 'error_event'"),
        TrendMetric("activities", "user_activities", "sum(activities)"),
        TrendMetric("average_load_time", "user_performance", "avgMerge(avg_page_load_time)", digits=2),
    )
}
"""Per-point values of ``sessions`` count the sessions seen in that point; the period value counts each
session once, so it can be less than the sum of the points."""


def parse_metrics(value: str | None) -> list[str]:
    if not value:
        return list(TREND_METRICS)
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in TREND_METRICS]
    if unknown or not names:
        raise ParameterError("metrics", f"unknown metrics {unknown}; any of: {', '.join(TREND_METRICS)}")
    return names


def _value(raw: Any, metric: TrendMetric) -> float:
    """A merged value; an average over no rows (NaN in ClickHouse) is 0, like every empty measure."""
    number = float(raw or 0)
    if math.isnan(number):
        return 0.0
    return round(number, metric.digits) if metric.digits else number


async def metric_value(store: QueryStore, scope: Scope, span: Range, metric: TrendMetric) -> float:
    params: dict[str, Any] = {}
    rows_of = source(rollup(metric.rollup), span, scope, params, where=metric.where)
    rows = await store.rows(f"SELECT {metric.expression} FROM {rows_of}", params)
    return _value(rows[0][0], metric)


async def metric_series(
    store: QueryStore, scope: Scope, span: Range, metric: TrendMetric
) -> list[dict[str, Any]]:
    params: dict[str, Any] = {}
    rows_of = source(rollup(metric.rollup), span, scope, params, where=metric.where)
    point = point_expression(span, params)
    rows = await store.rows(
        f"SELECT {point} AS point, {metric.expression} FROM {rows_of} GROUP BY point", params
    )
    values = {as_point(r[0]): _value(r[1], metric) for r in rows}
    return [{"date": day, "value": values.get(day, 0.0)} for day in points(span)]


async def trend(store: QueryStore, scope: Scope, span: Range, previous: Range, name: str) -> dict[str, Any]:
    metric = TREND_METRICS[name]
    current = await metric_value(store, scope, span, metric)
    before = await metric_value(store, scope, previous, metric)
    return {
        "metric": name,
        "current_value": current,
        "previous_value": before,
        "change_percentage": change_percentage(current, before),
        "trend": trend_of(current, before),
        "time_series": await metric_series(store, scope, span, metric),
    }


async def trends(
    store: QueryStore, scope: Scope, span: Range, previous: Range, names: list[str]
) -> list[dict[str, Any]]:
    return [await trend(store, scope, span, previous, name) for name in names]
