"""``GET /analytics/usage/{user_id}`` and ``/trends``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from query_api.api.deps import Last30Days, UserReadDep, envelope
from query_api.api.params import LimitQuery, PageQuery
from query_api.examples import example_response
from query_api.formulas import change_percentage, trend_of
from query_api.models import Envelope, PagedEnvelope, UsageMetricPublic, UsageTrend
from query_api.readers.common import page_of
from query_api.readers.usage import USAGE_METRICS, check_metric, list_usage, usage_series, usage_totals

router = APIRouter(prefix="/analytics/usage", tags=["usage"])
MetricQuery = Annotated[
    str, Query(description="the usage metric", json_schema_extra={"enum": list(USAGE_METRICS)})
]


@router.get(
    "/{user_id}", response_model=PagedEnvelope[list[UsageMetricPublic]], responses=example_response("usage")
)
async def get_usage(
    request: Request, read: UserReadDep, period: Last30Days, page: PageQuery = 1, limit: LimitQuery = 100
) -> dict[str, Any]:
    """A user's daily usage summaries in the period (the latest post per day), newest day first."""
    paging = page_of(page, limit)
    rows, total = await list_usage(read.store, read.scope, period.current, paging)
    return envelope(request, rows, pagination=paging.pagination(total))


@router.get(
    "/{user_id}/trends", response_model=Envelope[UsageTrend], responses=example_response("usage_trends")
)
async def get_usage_trends(
    request: Request, read: UserReadDep, period: Last30Days, metric: MetricQuery
) -> dict[str, Any]:
    """One usage metric over the period, against the preceding period of equal length."""
    check_metric(metric)

    async def compute() -> dict[str, Any]:
        current = (await usage_totals(read.store, read.scope, period.current)).value(metric)
        previous = (await usage_totals(read.store, read.scope, period.previous)).value(metric)
        return {
            "metric": metric,
            "time_period": period.name.value,
            "current_value": current,
            "previous_value": previous,
            "change_percentage": change_percentage(current, previous),
            "trend": trend_of(current, previous),
            "time_series": await usage_series(read.store, read.scope, period.current, metric),
        }

    return envelope(request, await read.cached(("usage_trend", metric, period.current), compute))
