"""``GET /analytics/activities/{user_id}`` and ``/summary``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from query_api.api.deps import Last7Days, TenantsDep, UserReadDep, envelope
from query_api.api.params import EndBound, LimitQuery, PageQuery, StartBound
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
    read: UserReadDep,
    tenants: TenantsDep,
    activity_type: ActivityType | None = None,
    activity_category: ActivityCategory | None = None,
    severity: Severity | None = None,
    start_date: StartBound = None,
    end_date: EndBound = None,
    page: PageQuery = 1,
    limit: LimitQuery = 50,
) -> dict[str, Any]:
    """A user's activity log, newest first, filtered and paginated."""
    paging = page_of(page, limit)
    zone = await tenants.zone(read.scope.tenant_id)
    filters = {
        "activity_type": activity_type.value if activity_type else None,
        "activity_category": activity_category.value if activity_category else None,
        "severity": severity.value if severity else None,
    }
    rows, total = await list_activities(
        read.store,
        read.scope,
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
async def get_activity_summary(request: Request, read: UserReadDep, period: Last7Days) -> dict[str, Any]:
    """Activities in the period by type, category and severity, and the latest five."""
    data = await read.cached(
        ("activity_summary", period.current),
        lambda: activity_summary(read.store, read.scope, period.current, period.previous),
    )
    return envelope(request, data)
