"""A widget's data for a period (ADR 0017 §6): its source (:mod:`query_api.lms_config.data_sources`)
computed by the custom-metric engine, as the calculate route computes a custom metric. A widget whose source
can no longer be computed (its custom metric deleted) gets an error in place of its data; the other
widgets of the dashboard are not affected."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from query_api.lms_api.periods import DayRange
from query_api.lms_config.data_sources import data_source_of
from query_api.lms_config.metric_engine import (
    CalculationError,
    MetricType,
    Plan,
    Point,
    calculate,
    parse_config,
    plan,
)
from query_api.lms_config.tables import METRICS
from query_api.store import QueryStore
from schemas.config_models import CustomMetric, DashboardWidget

Outcome = tuple[dict[str, Any] | None, dict[str, str] | None]
"""(data, error): one of them is ``None``."""


def points_json(points: Sequence[Point]) -> list[dict[str, Any]]:
    return [{"period_start": p.period_start, "period_end": p.period_end, "value": p.value} for p in points]


async def custom_metrics_of(
    session: AsyncSession, tenant_id: str, widgets: Sequence[DashboardWidget]
) -> dict[int, CustomMetric]:
    """The live custom metrics the widgets name, by id (a deleted or unknown one is absent)."""
    wanted = set()
    for widget in widgets:
        try:
            source = data_source_of(widget.data_source, widget.widget_config)
        except CalculationError:
            continue
        if source.custom_metric_id is not None:
            wanted.add(source.custom_metric_id)
    found = {}
    for metric_id in sorted(wanted):
        try:
            found[metric_id] = await METRICS.get(session, tenant_id, metric_id)
        except LookupError:
            continue
    return found


def _plan_of(widget: DashboardWidget, metrics: Mapping[int, CustomMetric]) -> tuple[Plan, MetricType]:
    source = data_source_of(widget.data_source, widget.widget_config)
    if source.custom_metric_id is None:
        assert source.plan is not None
        return source.plan, source.plan.metric_type
    metric = metrics.get(source.custom_metric_id)
    if metric is None:
        raise LookupError(f"custom metric {source.custom_metric_id} does not exist (deleted?)")
    metric_type = MetricType(metric.metric_type)
    return plan(metric_type, parse_config(metric.calculation_config)), metric_type


async def widget_data(
    store: QueryStore, widget: DashboardWidget, metrics: Mapping[int, CustomMetric], days: DayRange
) -> Outcome:
    try:
        checked, metric_type = _plan_of(widget, metrics)
    except CalculationError as exc:
        return None, {"errorCode": "DASHBOARD_CONFIG_ERROR", "message": f"{exc.field}: {exc.message}"}
    except LookupError as exc:
        return None, {"errorCode": "METRIC_NOT_FOUND", "message": str(exc)}
    value, points = await calculate(store, checked, days)
    return {"metric_type": metric_type.value, "value": value, "points": points_json(points)}, None


async def widgets_data(
    store: QueryStore, widgets: Sequence[DashboardWidget], metrics: Mapping[int, CustomMetric], days: DayRange
) -> list[Outcome]:
    """Every widget's data, computed concurrently (the store's pool bounds how many run at once)."""
    return list(await asyncio.gather(*(widget_data(store, w, metrics, days) for w in widgets)))
