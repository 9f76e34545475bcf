"""``/api/admin/analytics/system/...``: the tenant's platform usage, health, storage and traffic, for an admin
(or service) credential of the tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from query_api import lms
from query_api.lms.models import TrendPoint
from query_api.lms.performance import PerformanceFigure, SystemPerformance, system_performance
from query_api.lms.system import system_metrics_by_period
from query_api.lms.traffic import traffic_analytics_by_period
from query_api.lms_api import examples
from query_api.lms_api.access import LmsCallerDep
from query_api.lms_api.params import GranularityQuery, Last30Days
from query_api.lms_api.periods import DayGranularity, day_buckets
from query_api.lms_api.responses import LmsResponse, answer, documented

system = APIRouter(prefix="/api/admin/analytics/system", tags=["lms: system analytics"])


@system.get(
    "/usage",
    response_class=LmsResponse,
    responses=documented(list[lms.SystemMetrics], [examples.SYSTEM]),
)
async def get_system_usage(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    granularity: GranularityQuery = DayGranularity.DAILY,
) -> LmsResponse:
    """``SystemMetrics`` of the tenant per ``granularity`` point of the period (default: the last 30 days,
    daily), oldest first."""
    caller.require_admin()
    periods = [bucket.period for bucket in day_buckets(days, granularity)]
    live = (await caller.catalog_snapshot()).courses
    return answer(request, await system_metrics_by_period(caller.store, periods, live))


@system.get("/storage", response_class=LmsResponse, responses=documented(lms.SystemMetrics, examples.SYSTEM))
async def get_system_storage(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
) -> LmsResponse:
    """``SystemMetrics`` of the tenant over the period (default: the last 30 days):
    ``total_storage_used`` is the newest sample's by the period's end, ``bandwidth_used`` the bytes served
    in it."""
    caller.require_admin()
    live = (await caller.catalog_snapshot()).courses
    return answer(request, await lms.system_metrics(caller.store, days.period, live))


TRAFFIC_EXAMPLE = lms.TrafficAnalytics(
    tenant_id=examples.TENANT,
    period_start=examples.SYSTEM.period_start,
    period_end=examples.SYSTEM.period_start,
    requests=1_482_300,
    errors=6_226,
    error_rate=examples.SYSTEM.error_rate,
    bytes_served=518_577_111_040,
    average_latency_ms=examples.COURSE.average_progress,
    latency_ms_histogram={"le_100": 1_203_118, "le_500": 262_030, "le_1000": 13_520, "gt_1000": 3_632},
    requests_by_country={"DE": 402_110, "IN": 611_203, "US": 468_987},
    requests_by_region={"DE-BE": 120_400, "IN-KA": 300_002, "US-IL": 210_500},
)


@system.get(
    "/traffic",
    response_class=LmsResponse,
    responses=documented(list[lms.TrafficAnalytics], [TRAFFIC_EXAMPLE]),
)
async def get_system_traffic(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    granularity: GranularityQuery = DayGranularity.DAILY,
) -> LmsResponse:
    """``TrafficAnalytics`` of the tenant per ``granularity`` point of the period (default: the last 30 days,
    daily): requests, errors, bytes, mean latency, the latency histogram and the geography of requests."""
    caller.require_admin()
    periods = [bucket.period for bucket in day_buckets(days, granularity)]
    return answer(request, await traffic_analytics_by_period(caller.store, periods))


PERFORMANCE_EXAMPLE = SystemPerformance(
    tenant_id=examples.TENANT,
    period_start=examples.SYSTEM.period_start,
    period_end=examples.SYSTEM.period_end,
    requests=41_502_340,
    errors=174_310,
    error_rate=examples.SYSTEM.error_rate,
    average_latency_ms=examples.COURSE.average_progress,
    system_uptime=examples.SYSTEM.system_uptime,
    metric="error_rate",
    trend=[
        TrendPoint(examples.SYSTEM.period_start, examples.SYSTEM.period_start, examples.SYSTEM.error_rate)
    ],
)


@system.get(
    "/performance",
    response_class=LmsResponse,
    responses=documented(SystemPerformance, PERFORMANCE_EXAMPLE),
)
async def get_system_performance(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    metric: Annotated[
        PerformanceFigure, Query(description="the health figure whose daily trend is returned")
    ] = PerformanceFigure.error_rate,
) -> LmsResponse:
    """The platform's requests, 5xx errors, error rate, mean latency and uptime over the period (default:
    the last 30 days), and ``metric`` on each local day of it (``system_uptime`` is ``null`` on a day
    without an uptime sample)."""
    caller.require_admin()
    return answer(request, await system_performance(caller.store, days.period, metric))
