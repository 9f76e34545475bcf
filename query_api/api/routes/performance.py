"""``GET /analytics/performance/{user_id}`` and ``/overview``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from query_api.api.deps import (
    CacheDep,
    CallerDep,
    ClockDep,
    StoreDep,
    TenantsDep,
    UserId,
    cache_control,
    envelope,
    period_for,
    user_scope,
)
from query_api.examples import example_response
from query_api.models import Envelope, PagedEnvelope, PerformanceMetricPublic, PerformanceOverview
from query_api.readers.common import page_of
from query_api.readers.performance import list_performance, performance_overview

router = APIRouter(prefix="/analytics/performance", tags=["performance"])
PeriodQuery = Annotated[str, Query(description="time period; `custom` needs start_date and end_date")]


@router.get(
    "/{user_id}",
    response_model=PagedEnvelope[list[PerformanceMetricPublic]],
    responses=example_response("performance"),
)
async def get_performance(
    request: Request,
    user_id: UserId,
    store: StoreDep,
    caller: CallerDep,
    tenants: TenantsDep,
    clock: ClockDep,
    time_period: PeriodQuery = "last_24_hours",
    start_date: str | None = None,
    end_date: str | None = None,
    page: int = 1,
    limit: int = 100,
) -> dict[str, Any]:
    """A user's performance samples (web vitals) in the period, newest first."""
    period = await period_for(tenants, caller, clock, time_period, start_date, end_date)
    paging = page_of(page, limit)
    rows, total = await list_performance(store, user_scope(caller, user_id), period.current, paging)
    return envelope(request, rows, pagination=paging.pagination(total))


@router.get(
    "/{user_id}/overview",
    response_model=Envelope[PerformanceOverview],
    responses=example_response("performance_overview"),
)
async def get_performance_overview(
    request: Request,
    response: Response,
    user_id: UserId,
    store: StoreDep,
    cache: CacheDep,
    caller: CallerDep,
    tenants: TenantsDep,
    clock: ClockDep,
    time_period: PeriodQuery = "last_7_days",
    start_date: str | None = None,
    end_date: str | None = None,
) -> dict[str, Any]:
    """Average load time, performance score, p75 core web vitals, slowest pages, trend and issues."""
    period = await period_for(tenants, caller, clock, time_period, start_date, end_date)
    scope = user_scope(caller, user_id)
    data = await cache.get_or_compute(
        ("performance_overview", scope, period.current),
        lambda: performance_overview(store, scope, period.current, period.previous),
    )
    cache_control(response, cache)
    return envelope(request, data)
