"""``GET /analytics/performance/{user_id}`` and ``/overview``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from query_api.api.deps import Last7Days, Last24Hours, UserReadDep, envelope
from query_api.api.params import LimitQuery, PageQuery
from query_api.examples import example_response
from query_api.models import Envelope, PagedEnvelope, PerformanceMetricPublic, PerformanceOverview
from query_api.readers.common import page_of
from query_api.readers.performance import list_performance, performance_overview

router = APIRouter(prefix="/analytics/performance", tags=["performance"])


@router.get(
    "/{user_id}",
    response_model=PagedEnvelope[list[PerformanceMetricPublic]],
    responses=example_response("performance"),
)
async def get_performance(
    request: Request, read: UserReadDep, period: Last24Hours, page: PageQuery = 1, limit: LimitQuery = 100
) -> dict[str, Any]:
    """A user's performance samples (web vitals) in the period, newest first."""
    paging = page_of(page, limit)
    rows, total = await list_performance(read.store, read.scope, period.current, paging)
    return envelope(request, rows, pagination=paging.pagination(total))


@router.get(
    "/{user_id}/overview",
    response_model=Envelope[PerformanceOverview],
    responses=example_response("performance_overview"),
)
async def get_performance_overview(request: Request, read: UserReadDep, period: Last7Days) -> dict[str, Any]:
    """Average load time, performance score, p75 core web vitals, slowest pages, trend and issues."""
    data = await read.cached(
        ("performance_overview", period.current),
        lambda: performance_overview(read.store, read.scope, period.current, period.previous, read.shared),
    )
    return envelope(request, data)
