"""``GET /analytics/activities/{user_id}`` and ``/summary``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

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
from query_api.models import ActivityLogPublic, ActivitySummary, Envelope, PagedEnvelope
from query_api.readers.activities import activity_summary, list_activities
from query_api.readers.common import page_of, time_bound
from schemas.enums import ActivityCategory, ActivityType, Severity

router = APIRouter(prefix="/analytics/activities", tags=["activities"])


@router.get(
    "/{user_id}",
    response_model=PagedEnvelope[list[ActivityLogPublic]],
    responses=example_response("activities"),
)
async def get_activities(
    request: Request,
    user_id: UserId,
    store: StoreDep,
    caller: CallerDep,
    tenants: TenantsDep,
    activity_type: ActivityType | None = None,
    activity_category: ActivityCategory | None = None,
    severity: Severity | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    page: int = 1,
    limit: int = 50,
) -> dict[str, Any]:
    """A user's activity log, newest first, filtered and paginated."""
    paging = page_of(page, limit)
    zone = await tenants.zone(caller.tenant_id)
    filters = {
        "activity_type": activity_type.value if activity_type else None,
        "activity_category": activity_category.value if activity_category else None,
        "severity": severity.value if severity else None,
    }
    rows, total = await list_activities(
        store,
        user_scope(caller, user_id),
        paging,
        filters,
        time_bound("start_date", start_date, zone, end=False),
        time_bound("end_date", end_date, zone, end=True),
    )
    return envelope(request, rows, pagination=paging.pagination(total))


@router.get(
    "/{user_id}/summary",
    response_model=Envelope[ActivitySummary],
    responses=example_response("activity_summary"),
)
async def get_activity_summary(
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
    """Activities in the period by type, category and severity, and the latest five."""
    period = await period_for(tenants, caller, clock, time_period, start_date, end_date)
    scope = user_scope(caller, user_id)
    data = await cache.get_or_compute(
        ("activity_summary", scope, period.current),
        lambda: activity_summary(store, scope, period.current, period.previous),
    )
    cache_control(response, cache)
    return envelope(request, data)
