"""``/system/performance`` (the seed answers it with ``SystemMetrics[]``, whose only health figures are
uptime and the error rate): the platform's health over a period — requests, 5xx errors, error rate, mean
latency and uptime — and one of them day by day, from the daily rows of ``rollup_lms_platform_traffic``
in one statement (samples count on the local day of their ``timestamp``). Formulas:
:mod:`schemas.lms_measures`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from query_api.lms.grains import daily_condition
from query_api.lms.models import LmsPeriod, Percent, TrendPoint
from query_api.lms.state import period_params
from query_api.store import QueryStore
from schemas import lms_measures as measures
from schemas.rollups import rollup

TRAFFIC = rollup("lms_platform_traffic")


class PerformanceFigure(StrEnum):
    """The health figures whose daily trend ``system/performance`` answers."""

    error_rate = "error_rate"
    average_latency_ms = "average_latency_ms"
    system_uptime = "system_uptime"
    requests = "requests"
    errors = "errors"


@dataclass(frozen=True, slots=True)
class HealthFigures:
    requests: int
    errors: int
    error_rate: Percent
    average_latency_ms: Percent
    system_uptime: Percent | None
    """``None`` without an uptime sample"""

    @classmethod
    def of(cls, requests: int, errors: int, latency_us: int, observed: int, up: int) -> HealthFigures:
        return cls(
            requests,
            errors,
            measures.error_rate(errors, requests),
            measures.average_latency_ms(latency_us, requests),
            measures.uptime(up, observed),
        )

    def value(self, figure: PerformanceFigure) -> Decimal | int | None:
        found: Decimal | int | None = getattr(self, figure.value)
        return found


@dataclass(frozen=True, slots=True)
class SystemPerformance:
    tenant_id: str
    period_start: date
    period_end: date
    requests: int
    errors: int
    error_rate: Percent
    average_latency_ms: Percent
    system_uptime: Percent | None
    metric: str
    trend: list[TrendPoint]
    """``metric`` on every local day of the period, oldest first"""


async def system_performance(
    store: QueryStore, period: LmsPeriod, metric: PerformanceFigure
) -> SystemPerformance:
    params = period_params(period)
    rows = await store.rows(
        "SELECT bucket, sum(requests), sum(errors), sum(latency_us_sum), sum(observed_seconds), "
        f"sum(up_seconds) FROM {TRAFFIC.table} WHERE tenant_id = {{tenant:String}} "
        f"AND {daily_condition(period.first, period.last, params)} GROUP BY bucket",
        params,
    )
    sums = {day: [int(v) for v in values] for day, *values in rows}
    totals = [sum(column) for column in zip(*sums.values(), strict=True)] or [0] * 5
    whole = HealthFigures.of(*totals)
    days = (period.first + timedelta(days=i) for i in range(period.days))
    return SystemPerformance(
        tenant_id=period.tenant_id,
        period_start=period.first,
        period_end=period.last,
        requests=whole.requests,
        errors=whole.errors,
        error_rate=whole.error_rate,
        average_latency_ms=whole.average_latency_ms,
        system_uptime=whole.system_uptime,
        metric=metric.value,
        trend=[TrendPoint(day, day, HealthFigures.of(*sums.get(day, [0] * 5)).value(metric)) for day in days],
    )
