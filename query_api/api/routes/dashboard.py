"""``GET /analytics/dashboard/{user_id}``, ``/insights/{user_id}`` and ``/trends/{user_id}``."""

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
from query_api.models import Dashboard, Envelope, Insight, Trend
from query_api.readers.dashboard import dashboard
from query_api.readers.trends import TREND_METRICS, parse_metrics, trends

router = APIRouter(prefix="/analytics", tags=["dashboard"])


@router.get(
    "/dashboard/{user_id}", response_model=Envelope[Dashboard], responses=example_response("dashboard")
)
async def get_dashboard(
    request: Request,
    response: Response,
    user_id: UserId,
    store: StoreDep,
    cache: CacheDep,
    caller: CallerDep,
    tenants: TenantsDep,
    clock: ClockDep,
    time_period: str = "last_7_days",
    start_date: str | None = None,
    end_date: str | None = None,
) -> dict[str, Any]:
    """Overview, performance, usage, activity, trends and insights of a user for the period."""
    period = await period_for(tenants, caller, clock, time_period, start_date, end_date)
    scope = user_scope(caller, user_id)
    data = await cache.get_or_compute(
        ("dashboard", scope, period.current), lambda: dashboard(store, scope, period, clock())
    )
    cache_control(response, cache)
    return envelope(request, data)


@router.get(
    "/insights/{user_id}", response_model=Envelope[list[Insight]], responses=example_response("insights")
)
async def get_insights(
    request: Request,
    response: Response,
    user_id: UserId,
    store: StoreDep,
    cache: CacheDep,
    caller: CallerDep,
    tenants: TenantsDep,
    clock: ClockDep,
    time_period: str = "last_7_days",
    start_date: str | None = None,
    end_date: str | None = None,
) -> dict[str, Any]:
    """Insights for the period, highest priority first (the dashboard's ``insights`` block)."""
    period = await period_for(tenants, caller, clock, time_period, start_date, end_date)
    scope = user_scope(caller, user_id)
    data = await cache.get_or_compute(
        ("dashboard", scope, period.current), lambda: dashboard(store, scope, period, clock())
    )
    cache_control(response, cache)
    return envelope(request, data["insights"])


@router.get("/trends/{user_id}", response_model=Envelope[list[Trend]], responses=example_response("trends"))
async def get_trends(
    request: Request,
    response: Response,
    user_id: UserId,
    store: StoreDep,
    cache: CacheDep,
    caller: CallerDep,
    tenants: TenantsDep,
    clock: ClockDep,
    metrics: Annotated[
        str | None, Query(description=f"comma-separated; any of: {', '.join(TREND_METRICS)}")
    ] = None,
    time_period: str = "last_7_days",
    start_date: str | None = None,
    end_date: str | None = None,
) -> dict[str, Any]:
    """Several metrics over the period against the preceding period of equal length, with series."""
    names = parse_metrics(metrics)
    period = await period_for(tenants, caller, clock, time_period, start_date, end_date)
    scope = user_scope(caller, user_id)
    data = await cache.get_or_compute(
        ("trends", scope, tuple(names), period.current),
        lambda: trends(store, scope, period.current, period.previous, names),
    )
    cache_control(response, cache)
    return envelope(request, data)
