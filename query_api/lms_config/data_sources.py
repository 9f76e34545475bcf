"""Where a widget's data comes from (ADR 0017 §6): its ``data_source`` names a custom metric
(``custom_metric:<metricId>``) or a measure of the catalog (``course_activity.views``), and either goes
through the custom-metric engine, so a widget shows any built-in or custom metric computed one way.

For a measure, the widget's ``widget_config`` may carry the calculation beside its presentation: a
``metric_type`` (default ``COUNT``, or ``TREND`` when a ``granularity`` is given) and the engine's
``granularity``, ``per`` and ``filters``; its other keys (colours, titles, …) are the client's own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from query_api.lms_config.metric_engine import CalculationError, MetricType, Plan, parse_config, plan

CUSTOM_METRIC = re.compile(r"^custom_metric:([1-9][0-9]{0,9})$")
CALCULATION_KEYS = ("granularity", "per", "filters")


@dataclass(frozen=True, slots=True)
class DataSource:
    """A custom metric by id, or a measure's checked calculation."""

    custom_metric_id: int | None = None
    plan: Plan | None = None


def data_source_of(data_source: str, widget_config: Mapping[str, Any]) -> DataSource:
    """The widget's source; raises :class:`CalculationError` naming the field at fault (``data_source`` or
    ``widget_config.<key>``). A custom metric's existence is the caller's to check."""
    matched = CUSTOM_METRIC.match(data_source)
    if matched:
        return DataSource(custom_metric_id=int(matched.group(1)))
    config: dict[str, Any] = {"measure": data_source}
    config.update({key: widget_config[key] for key in CALCULATION_KEYS if key in widget_config})
    named = widget_config.get("metric_type")
    if named is None:
        metric_type = MetricType.TREND if "granularity" in config else MetricType.COUNT
    elif isinstance(named, str) and named in MetricType.__members__:
        metric_type = MetricType(named)
    else:
        raise CalculationError("widget_config.metric_type", f"unknown metric type {str(named)[:64]!r}")
    if metric_type in (MetricType.RATIO, MetricType.PERCENTAGE):
        raise CalculationError(
            "widget_config.metric_type", f"{metric_type.value} takes two measures: use a custom metric"
        )
    try:
        checked = plan(metric_type, parse_config(config))
    except CalculationError as exc:
        field = exc.field.replace("calculation_config.measure", "data_source")
        raise CalculationError(field.replace("calculation_config.", "widget_config."), exc.message) from exc
    return DataSource(plan=checked)
