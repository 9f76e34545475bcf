"""``TrafficAnalytics`` (the admin ``system/traffic`` read; the seed answers it with ``SystemMetrics``, which
has no place for geography): a tenant's request traffic over a period from ``rollup_lms_platform_traffic`` —
requests, 5xx errors, bytes served, mean latency, the latency histogram and requests by country and region,
summed over every reporting source (samples count on the local day of their ``timestamp``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from query_api.lms.models import LmsPeriod, Percent
from query_api.lms.spans import COVER_SPANS, IN_RANGE, SPANS_WITH, span_params, spanned
from query_api.store import QueryStore
from schemas import lms_measures as measures
from schemas.rollups import rollup

TRAFFIC = rollup("lms_platform_traffic")


@dataclass(frozen=True, slots=True)
class TrafficAnalytics:
    tenant_id: str
    period_start: date
    period_end: date
    requests: int
    errors: int
    error_rate: Percent
    bytes_served: int
    average_latency_ms: Percent
    latency_ms_histogram: dict[str, int]
    """requests per latency bucket, as the sources label their buckets"""
    requests_by_country: dict[str, int]
    requests_by_region: dict[str, int]


def _counts(values: object) -> dict[str, int]:
    return {str(k): int(v) for k, v in sorted(dict(values or {}).items()) if int(v)}  # type: ignore[call-overload]


async def traffic_analytics_by_period(
    store: QueryStore, periods: Sequence[LmsPeriod]
) -> list[TrafficAnalytics]:
    """``TrafficAnalytics`` of the tenant over each of ``periods`` (one tenant and zone), in one statement."""
    if not periods:
        return []
    params = span_params(periods)
    rows = await store.rows(
        SPANS_WITH + "SELECT span, sum(requests), sum(errors), sum(bytes_served), sum(latency_us_sum), "
        "sumMap(latency_ms_histogram), sumMap(requests_by_country), sumMap(requests_by_region) "
        + spanned(TRAFFIC.table, f"tenant_id = {{tenant:String}} AND {IN_RANGE}", COVER_SPANS)
        + " GROUP BY span",
        params,
    )
    found = {int(span): values for span, *values in rows}
    out = []
    for index, period in enumerate(periods, start=1):
        requests, errors, served, latency, histogram, countries, regions = found.get(
            index, (0, 0, 0, 0, {}, {}, {})
        )
        out.append(
            TrafficAnalytics(
                tenant_id=period.tenant_id,
                period_start=period.first,
                period_end=period.last,
                requests=int(requests),
                errors=int(errors),
                error_rate=measures.error_rate(int(errors), int(requests)),
                bytes_served=int(served),
                average_latency_ms=measures.average_latency_ms(int(latency), int(requests)),
                latency_ms_histogram=_counts(histogram),
                requests_by_country=_counts(countries),
                requests_by_region=_counts(regions),
            )
        )
    return out


async def traffic_analytics(store: QueryStore, period: LmsPeriod) -> TrafficAnalytics:
    """:func:`traffic_analytics_by_period` of one period."""
    return (await traffic_analytics_by_period(store, [period]))[0]
