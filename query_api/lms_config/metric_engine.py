"""Custom metrics (ADR 0017 §6): a declarative ``calculation_config`` checked against the rollup catalog
(:mod:`query_api.lms_config.metric_catalog`) and compiled to parameterised statements. Never SQL from
users: every identifier in a statement comes from the catalog, every value a user wrote is a bound
parameter, and anything the catalog does not know is refused with ``CALCULATION_ERROR`` naming it.

``calculation_config`` by the seed's ``MetricType``:

- ``SUM`` (``measure``): the measure's total over the period (a ``count`` or ``sum`` measure);
- ``COUNT`` (``measure``): how many — a ``count`` measure's total, or a ``uniq_exact`` measure's exact
  distinct count over the whole period (``user_days.courses_accessed``: the courses anyone accessed);
- ``AVERAGE`` (``measure``, ``per``): the total divided by the number of the period's days (``per:
  "day"``, the default) or of the distinct values of a dimension that have rows (``per: "course_id"``),
  two decimals rounded half up;
- ``RATIO`` (``numerator``, ``denominator``): total over total, four decimals rounded half up (``None``
  over an empty denominator);
- ``PERCENTAGE`` (``numerator``, ``denominator``): 100 × total over total, two decimals (0.00 over an empty
  denominator, as every percentage of this API);
- ``TREND`` (``measure``, ``granularity``): the measure (as ``COUNT``/``SUM`` take it) per calendar bucket
  of ``DAILY`` … ``YEARLY`` (the rollups hold days: no ``HOURLY``), the first and last bucket clipped to the
  period.

``filters``: ``[{dimension, operator, value}]`` on the measures' dimensions with ``eq``, ``ne``, ``in``,
``not_in``, ``gt``, ``gte``, ``lt``, ``lte``; a calculation's ``parameters`` add ``{dimension: value or
[values]}`` equality filters (a template metric filtered per course at calculation time). Measures of one
metric may come from different rollups; every filter must then apply to each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from query_api.lms.models import LmsPeriod
from query_api.lms.spans import COVER_SPANS, IN_RANGE, SPANS_WITH, span_params, spanned
from query_api.lms_api.periods import DayGranularity, DayRange, day_buckets
from query_api.lms_config.metric_catalog import MEASURES, CatalogMeasure
from query_api.store import QueryStore
from schemas import lms_measures as measures

MAX_FILTERS = 20
MAX_VALUES = 100


class MetricType(StrEnum):
    """The seed's ``MetricType``."""

    COUNT = "COUNT"
    PERCENTAGE = "PERCENTAGE"
    AVERAGE = "AVERAGE"
    SUM = "SUM"
    RATIO = "RATIO"
    TREND = "TREND"


Identifier = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Scalar = int | Annotated[str, StringConstraints(max_length=255)]
_COMPARE = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
OPERATORS = frozenset({*_COMPARE, "in", "not_in"})


class MetricFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dimension: Identifier
    operator: Identifier = "eq"
    value: Scalar | Annotated[list[Scalar], Field(min_length=1, max_length=MAX_VALUES)]


class CalculationConfig(BaseModel):
    """A custom metric's ``calculation_config`` (which fields a ``MetricType`` takes: module docstring)."""

    model_config = ConfigDict(extra="forbid")

    measure: Identifier | None = None
    numerator: Identifier | None = None
    denominator: Identifier | None = None
    per: Identifier | None = Field(default=None, description='AVERAGE: "day" (default) or a dimension')
    granularity: Identifier | None = Field(default=None, description="TREND: DAILY … YEARLY")
    filters: Annotated[list[MetricFilter], Field(max_length=MAX_FILTERS)] = []


class CalculationError(Exception):
    """A configuration or parameter the engine cannot compute: 422 ``CALCULATION_ERROR`` naming ``field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


_TAKES: dict[MetricType, frozenset[str]] = {
    MetricType.SUM: frozenset({"measure"}),
    MetricType.COUNT: frozenset({"measure"}),
    MetricType.AVERAGE: frozenset({"measure", "per"}),
    MetricType.TREND: frozenset({"measure", "granularity"}),
    MetricType.RATIO: frozenset({"numerator", "denominator"}),
    MetricType.PERCENTAGE: frozenset({"numerator", "denominator"}),
}
_NEEDS = {name: taken - {"per"} for name, taken in _TAKES.items()}


def _measure(field: str, name: str, metric_type: MetricType) -> CatalogMeasure:
    found = MEASURES.get(name)
    if found is None:
        raise CalculationError(f"calculation_config.{field}", f"unknown measure {name!r}")
    if metric_type is MetricType.SUM and found.distinct:
        raise CalculationError(
            f"calculation_config.{field}", f"{name} is a distinct count, which does not add up: use COUNT"
        )
    return found


@dataclass(frozen=True, slots=True)
class Plan:
    """A checked configuration: its measures by role, and the filters every statement applies."""

    metric_type: MetricType
    parts: dict[str, CatalogMeasure]
    """``measure`` or ``numerator``/``denominator``"""
    filters: tuple[MetricFilter, ...]
    per: str
    granularity: DayGranularity | None


def parse_config(raw: Mapping[str, Any]) -> CalculationConfig:
    """``calculation_config`` as sent, checked for shape; anything else is a :class:`CalculationError`
    naming the first field at fault (``calculation_config.filters[0].value``)."""
    try:
        return CalculationConfig.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
        raise CalculationError(f"calculation_config{path}", str(error["msg"])) from None


def plan(
    metric_type: MetricType, config: CalculationConfig, parameters: Mapping[str, Any] | None = None
) -> Plan:
    """Check ``config`` (and a calculation's ``parameters``) against the catalog; raises
    :class:`CalculationError` naming the first thing it does not know."""
    given = {
        name
        for name in ("measure", "numerator", "denominator", "per", "granularity")
        if getattr(config, name)
    }
    for name in sorted(given - _TAKES[metric_type]):
        raise CalculationError(f"calculation_config.{name}", f"{metric_type.value} takes no {name}")
    for name in sorted(_NEEDS[metric_type] - given):
        raise CalculationError(f"calculation_config.{name}", f"{metric_type.value} needs {name}")
    parts = {
        name: _measure(name, str(getattr(config, name)), metric_type)
        for name in ("measure", "numerator", "denominator")
        if getattr(config, name)
    }
    extra = [_parameter_filter(key, value) for key, value in (parameters or {}).items()]
    filters = (*config.filters, *extra)
    for index, item in enumerate(filters):
        where = (
            f"calculation_config.filters[{index}]"
            if index < len(config.filters)
            else f"parameters.{item.dimension}"
        )
        _check_filter(where, item, parts)
    per = "day"
    if config.per and config.per != "day":
        for part in parts.values():
            known = [name for name in part.dimensions if name == config.per]  # the catalog's own text
            if not known:
                raise CalculationError(
                    "calculation_config.per", f"unknown dimension {config.per!r} for {part.name}"
                )
            per = known[0]
    granularity = None
    if config.granularity is not None:
        if config.granularity not in DayGranularity.__members__:
            raise CalculationError(
                "calculation_config.granularity",
                f"unknown granularity {config.granularity!r}: DAILY, WEEKLY, MONTHLY, QUARTERLY or YEARLY "
                "(the rollups hold days)",
            )
        granularity = DayGranularity(config.granularity)
    return Plan(metric_type, parts, tuple(filters), per, granularity)


def _parameter_filter(key: str, value: Any) -> MetricFilter:
    try:
        if isinstance(value, list):
            return MetricFilter(dimension=key, operator="in", value=value)
        return MetricFilter(dimension=key, operator="eq", value=value)
    except ValueError as exc:
        raise CalculationError(
            f"parameters.{key[:64]}", "a parameter is a number, a text or a list of them"
        ) from exc


def _check_filter(where: str, item: MetricFilter, parts: Mapping[str, CatalogMeasure]) -> None:
    if item.operator not in OPERATORS:
        raise CalculationError(f"{where}.operator", f"unknown operator {item.operator!r}")
    for part in parts.values():
        kind = part.dimensions.get(item.dimension)
        if kind is None:
            raise CalculationError(where, f"unknown dimension {item.dimension!r} for {part.name}")
        values = item.value if isinstance(item.value, list) else [item.value]
        listed = isinstance(item.value, list)
        if listed != (item.operator in ("in", "not_in")):
            raise CalculationError(
                where, f"operator {item.operator} takes {'one value' if listed else 'a list'}"
            )
        wanted = int if kind == "UInt64" else str
        if not all(isinstance(v, wanted) and not isinstance(v, bool) for v in values):
            raise CalculationError(
                where, f"{item.dimension} compares with {'integers' if wanted is int else 'texts'}"
            )
        if wanted is int and not all(0 <= int(v) < 2**64 for v in values):
            raise CalculationError(where, f"{item.dimension} takes integers from 0")


def _where(filters: Sequence[MetricFilter], part: CatalogMeasure, params: dict[str, Any], prefix: str) -> str:
    """The filters as SQL: identifiers from the catalog (the dimension's declared name), values bound."""
    clauses = []
    for index, item in enumerate(filters):
        column = next(name for name in part.dimensions if name == item.dimension)  # the catalog's own text
        kind = part.dimensions[column]
        name = f"{prefix}{index}"
        params[name] = item.value
        if item.operator in ("in", "not_in"):
            negation = "NOT " if item.operator == "not_in" else ""
            clauses.append(f"{column} {negation}IN {{{name}:Array({kind})}}")
        else:
            clauses.append(f"{column} {_COMPARE[item.operator]} {{{name}:{kind}}}")
    return "".join(f" AND {clause}" for clause in clauses)


async def _totals(
    store: QueryStore,
    periods: Sequence[LmsPeriod],
    part: CatalogMeasure,
    filters: Sequence[MetricFilter],
    by: str,
) -> dict[int, dict[Any, int]]:
    """Per period (1-based span) and per value of ``by`` (a dimension, or ``""`` for none), the measure's
    value over the period's cover, in one statement."""
    params = span_params(periods)
    where = f"tenant_id = {{tenant:String}} AND {IN_RANGE}{_where(filters, part, params, 'f')}"
    group = f", {by}" if by else ""
    key = by if by else "''"
    sql = (
        f"{SPANS_WITH}SELECT span, {key}, {part.merge} "
        f"{spanned(part.rollup.table, where, COVER_SPANS)} GROUP BY span{group}"
    )
    out: dict[int, dict[Any, int]] = {index: {} for index in range(1, len(periods) + 1)}
    for span, group_value, value in await store.rows(sql, params):
        out[int(span)][group_value] = int(value)
    return out


def _quantize(value: Decimal, places: str) -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Point:
    period_start: Any
    period_end: Any
    value: Decimal | int | None


async def calculate(
    store: QueryStore, metric: Plan, days: DayRange
) -> tuple[Decimal | int | None, list[Point]]:
    """The metric's value over ``days`` and, for ``TREND``, its points (else no points)."""
    if metric.metric_type is MetricType.TREND:
        assert metric.granularity is not None
        buckets = day_buckets(days, metric.granularity)
        periods = [b.period for b in buckets]
        totals = await _totals(store, periods, metric.parts["measure"], metric.filters, "")
        points = [Point(b.first, b.last, sum(totals[i + 1].values())) for i, b in enumerate(buckets)]
        whole = await _totals(store, [days.period], metric.parts["measure"], metric.filters, "")
        return sum(whole[1].values()), points
    period = [days.period]
    if metric.metric_type in (MetricType.RATIO, MetricType.PERCENTAGE):
        top, bottom = await asyncio.gather(
            _totals(store, period, metric.parts["numerator"], metric.filters, ""),
            _totals(store, period, metric.parts["denominator"], metric.filters, ""),
        )
        numerator, denominator = sum(top[1].values()), sum(bottom[1].values())
        if metric.metric_type is MetricType.PERCENTAGE:
            return measures.percent(numerator, denominator), []
        return (None if denominator == 0 else _quantize(Decimal(numerator) / denominator, "0.0001")), []
    if metric.metric_type is MetricType.AVERAGE and metric.per != "day":
        groups = (await _totals(store, period, metric.parts["measure"], metric.filters, metric.per))[1]
        if not groups:
            return Decimal("0.00"), []
        return _quantize(Decimal(sum(groups.values())) / len(groups), "0.01"), []
    total = sum((await _totals(store, period, metric.parts["measure"], metric.filters, ""))[1].values())
    if metric.metric_type is MetricType.AVERAGE:
        return _quantize(Decimal(total) / days.period.days, "0.01"), []
    return total, []
