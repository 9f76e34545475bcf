"""``GET /analytics/audit``: the tenant's audit log (admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from query_api.api.deps import CallerDep, StoreDep, envelope
from query_api.api.params import LimitQuery, PageQuery
from query_api.examples import example_response
from query_api.models import AuditEntryPublic, PagedEnvelope
from query_api.readers.common import page_of
from security.audit import read_audit
from security.policy import Action

router = APIRouter(prefix="/analytics", tags=["audit"])


@router.get(
    "/audit", response_model=PagedEnvelope[list[AuditEntryPublic]], responses=example_response("audit")
)
async def get_audit(
    request: Request,
    store: StoreDep,
    caller: CallerDep,
    actor: Annotated[str | None, Query(max_length=100, description="only this actor's entries")] = None,
    user_id: Annotated[str | None, Query(max_length=36, description="only entries about this user")] = None,
    page: PageQuery = 1,
    limit: LimitQuery = 50,
) -> dict[str, Any]:
    """Who read other users' data, exported or deleted it, and every refused attempt; newest first."""
    caller.may(Action.READ_AUDIT)
    paging = page_of(page, limit)
    await request.app.state.audit.flush()  # what this tenant's requests just did is in the answer
    entries, total = await store.execute(
        lambda client: read_audit(client, caller.tenant_id, paging.limit, paging.offset, actor, user_id)
    )
    return envelope(request, entries, pagination=paging.pagination(total))
