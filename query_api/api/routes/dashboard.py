"""``GET /analytics/dashboard/{user_id}``, ``/insights/{user_id}`` and ``/trends/{user_id}``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from query_api.api.deps import Last7Days, UserReadDep, envelope
from query_api.examples import example_response
from query_api.models import Dashboard, Envelope, Insight, Trend
from query_api.readers.dashboard import dashboard
from query_api.readers.trends import TREND_METRICS, parse_metrics, trends

router = APIRouter(prefix="/analytics", tags=["dashboard"])
_METRIC = "(" + "|".join(TREND_METRICS) + ")"
MetricsQuery = Annotated[
    str | None,
    Query(
        description=f"comma-separated, no spaces; any of: {', '.join(TREND_METRICS)} (default: all)",
        pattern=f"^{_METRIC}(,{_METRIC})*$",
    ),
]


@router.get(
    "/dashboard/{user_id}", response_model=Envelope[Dashboard], responses=example_response("dashboard")
)
async def get_dashboard(request: Request, read: UserReadDep, period: Last7Days) -> dict[str, Any]:
    """Overview, performance, usage, activity, trends and insights of a user for the period."""
    data = await read.cached(
        ("dashboard", period.current),
        lambda: dashboard(read.store, read.scope, period, read.clock(), read.shared),
    )
    return envelope(request, data)


@router.get(
    "/insights/{user_id}", response_model=Envelope[list[Insight]], responses=example_response("insights")
)
async def get_insights(request: Request, read: UserReadDep, period: Last7Days) -> dict[str, Any]:
    """Insights for the period, highest priority first (the dashboard's ``insights`` block)."""
    data = await read.cached(
        ("dashboard", period.current),
        lambda: dashboard(read.store, read.scope, period, read.clock(), read.shared),
    )
    return envelope(request, data["insights"])


@router.get("/trends/{user_id}", response_model=Envelope[list[Trend]], responses=example_response("trends"))
async def get_trends(
    request: Request, read: UserReadDep, period: Last7Days, metrics: MetricsQuery = None
) -> dict[str, Any]:
    """Several metrics over the period against the preceding period of equal length, with series."""
    names = parse_metrics(metrics)
    data = await read.cached(
        ("trends", tuple(names), period.current),
        lambda: trends(read.store, read.scope, period.current, period.previous, names),
    )
    return envelope(request, data)
