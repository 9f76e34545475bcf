"""Trends: a metric's value in the period, in the preceding period of equal length, the change, and its
series. ``GET /analytics/trends/{user_id}`` and the dashboard's ``trends`` block."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from query_api.formulas import change_percentage, trend_of
from query_api.grouped import POINT, Grouped, grouped
from query_api.periods import ParameterError, Range, points
from query_api.rollup_sql import Scope, as_point
from query_api.store import QueryStore
from schemas.rollups import rollup


@dataclass(frozen=True)
class TrendMetric:
    """A trend metric: which rollup, which merge expression over its rows, which columns it reads."""

    name: str
    rollup: str
    expression: str
    columns: tuple[str, ...]
    digits: int = 0


TREND_METRICS: dict[str, TrendMetric] = {
    m.name: m
    for m in (
        TrendMetric("events", "user_events", "sum(events)", ("events",)),
        TrendMetric("sessions", "user_events", "uniqExactMerge(sessions)", ("sessions",)),
        TrendMetric("page_views", "page_views", "sum(views)", ("views",)),
        TrendMetric(
            "errors", "user_events", "sumIf(events, event_type = 'error_event')", ("events", "event_type")
        ),
        TrendMetric("activities", "user_activities", "sum(activities)", ("activities",)),
        TrendMetric(
            "average_load_time",
            "user_performance",
            "avgMerge(avg_page_load_time)",
            ("avg_page_load_time",),
            digits=2,
        ),
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
    return list(dict.fromkeys(names))


def value_of(raw: Any, digits: int = 0) -> float:
    """A merged value; an average over no rows (NaN in ClickHouse) is 0, like every empty measure."""
    number = float(raw or 0)
    if math.isnan(number):
        return 0.0
    return round(number, digits) if digits else number


async def rollup_trends(
    store: QueryStore,
    scope: Scope,
    span: Range,
    previous: Range,
    metrics: Sequence[TrendMetric],
    columns: Sequence[str] = (),
    expressions: Sequence[str] = (),
    sets: dict[str, tuple[str, ...]] | None = None,
) -> tuple[list[dict[str, Any]], Grouped]:
    """The trends of ``metrics`` (all of one rollup) in one statement, plus whatever else the caller needs
    from that rollup: more ``expressions`` (after the metrics' own) over more grouping ``sets``."""
    item = rollup(metrics[0].rollup)
    result = await grouped(
        store,
        item,
        scope,
        span,
        previous,
        [*(c for m in metrics for c in m.columns), *columns],
        [*(m.expression for m in metrics), *expressions],
        {"series": (POINT,), **(sets or {})},
    )
    series = {as_point(keys[0]): values for keys, values in result.sets["series"]}
    found = [
        trend_entry(
            metric.name,
            value_of(result.total(True, index), metric.digits),
            value_of(result.total(False, index), metric.digits),
            {day: value_of(values[index], metric.digits) for day, values in series.items()},
            span,
        )
        for index, metric in enumerate(metrics)
    ]
    return found, result


def trend_entry(
    name: str, now: float, then: float, series: dict[date | datetime, float], span: Range
) -> dict[str, Any]:
    """One trend: the period's value against the previous period's, and a value for every series point of
    ``span`` (points without one are zero)."""
    return {
        "metric": name,
        "current_value": now,
        "previous_value": then,
        "change_percentage": change_percentage(now, then),
        "trend": trend_of(now, then),
        "time_series": [{"date": day, "value": series.get(day, 0.0)} for day in points(span)],
    }


def by_rollup(names: Sequence[str]) -> dict[str, list[TrendMetric]]:
    groups: dict[str, list[TrendMetric]] = {}
    for name in names:
        groups.setdefault(TREND_METRICS[name].rollup, []).append(TREND_METRICS[name])
    return groups


async def trends(
    store: QueryStore, scope: Scope, span: Range, previous: Range, names: list[str]
) -> list[dict[str, Any]]:
    """The trends of ``names`` in that order; one statement per rollup involved, run concurrently."""
    groups = await asyncio.gather(
        *(rollup_trends(store, scope, span, previous, metrics) for metrics in by_rollup(names).values())
    )
    found = {trend["metric"]: trend for group, _ in groups for trend in group}
    return [found[name] for name in names]
