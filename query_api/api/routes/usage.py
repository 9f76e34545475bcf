"""``GET /analytics/usage/{user_id}`` and ``/trends``."""

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
from query_api.formulas import change_percentage, trend_of
from query_api.models import Envelope, PagedEnvelope, UsageMetricPublic, UsageTrend
from query_api.readers.common import page_of
from query_api.readers.usage import USAGE_METRICS, check_metric, list_usage, usage_series, usage_totals

router = APIRouter(prefix="/analytics/usage", tags=["usage"])


@router.get(
    "/{user_id}", response_model=PagedEnvelope[list[UsageMetricPublic]], responses=example_response("usage")
)
async def get_usage(
    request: Request,
    user_id: UserId,
    store: StoreDep,
    caller: CallerDep,
    tenants: TenantsDep,
    clock: ClockDep,
    time_period: str = "last_30_days",
    start_date: str | None = None,
    end_date: str | None = None,
    page: int = 1,
    limit: int = 100,
) -> dict[str, Any]:
    """A user's daily usage summaries in the period (the latest post per day), newest day first."""
    period = await period_for(tenants, caller, clock, time_period, start_date, end_date)
    paging = page_of(page, limit)
    rows, total = await list_usage(store, user_scope(caller, user_id), period.current, paging)
    return envelope(request, rows, pagination=paging.pagination(total))


@router.get(
    "/{user_id}/trends", response_model=Envelope[UsageTrend], responses=example_response("usage_trends")
)
async def get_usage_trends(
    request: Request,
    response: Response,
    user_id: UserId,
    store: StoreDep,
    cache: CacheDep,
    caller: CallerDep,
    tenants: TenantsDep,
    clock: ClockDep,
    metric: Annotated[str, Query(description=f"one of: {', '.join(USAGE_METRICS)}")],
    time_period: str = "last_30_days",
    start_date: str | None = None,
    end_date: str | None = None,
) -> dict[str, Any]:
    """One usage metric over the period, against the preceding period of equal length."""
    check_metric(metric)
    period = await period_for(tenants, caller, clock, time_period, start_date, end_date)
    scope = user_scope(caller, user_id)

    async def compute() -> dict[str, Any]:
        current = (await usage_totals(store, scope, period.current)).value(metric)
        previous = (await usage_totals(store, scope, period.previous)).value(metric)
        return {
            "metric": metric,
            "time_period": period.name.value,
            "current_value": current,
            "previous_value": previous,
            "change_percentage": change_percentage(current, previous),
            "trend": trend_of(current, previous),
            "time_series": await usage_series(store, scope, period.current, metric),
        }

    data = await cache.get_or_compute(("usage_trend", scope, metric, period.current), compute)
    cache_control(response, cache)
    return envelope(request, data)
