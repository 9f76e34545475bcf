"""``GET /analytics/events``: the raw event listing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from query_api.api.deps import CallerDep, StoreDep, TenantsDep, envelope
from query_api.api.params import EndBound, LimitQuery, PageQuery, StartBound
from query_api.examples import example_response
from query_api.models import AnalyticsEventPublic, PagedEnvelope
from query_api.readers.common import page_of, time_bound
from query_api.readers.events import list_events
from schemas.enums import EventCategory, EventType
from security.policy import Action

router = APIRouter(prefix="/analytics", tags=["events"])


@router.get(
    "/events", response_model=PagedEnvelope[list[AnalyticsEventPublic]], responses=example_response("events")
)
async def get_events(
    request: Request,
    store: StoreDep,
    caller: CallerDep,
    tenants: TenantsDep,
    user_id: Annotated[str | None, Query(max_length=36)] = None,
    event_type: EventType | None = None,
    event_category: EventCategory | None = None,
    start_date: StartBound = None,
    end_date: EndBound = None,
    page: PageQuery = 1,
    limit: LimitQuery = 50,
) -> dict[str, Any]:
    """Analytics events, newest first, filtered and paginated."""
    paging = page_of(page, limit)
    if user_id is None and not caller.principal.privileged:
        user_id = caller.principal.subject  # end users list their own events
    caller.may(Action.READ_USER if user_id is not None else Action.READ_TENANT, user_id)
    zone = await tenants.zone(caller.tenant_id)
    events, total = await list_events(
        store,
        caller.tenant_id,
        paging,
        user_id=user_id,
        event_type=event_type.value if event_type else None,
        event_category=event_category.value if event_category else None,
        start=time_bound("start_date", start_date, zone, end=False),
        end=time_bound("end_date", end_date, zone, end=True),
    )
    return envelope(request, events, pagination=paging.pagination(total))
