"""``GET /analytics/dashboard/{user_id}`` and ``/insights``: every block of the seed's dashboard, from
rollups (plus the bounded read of the latest activities), with insights derived from the same numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from query_api.periods import Period
from query_api.readers.activities import activity_summary
from query_api.readers.insights import InsightInputs, insights
from query_api.readers.overview import bounce_rate, event_totals, overview
from query_api.readers.performance import performance_overview
from query_api.readers.trends import TREND_METRICS, trends
from query_api.readers.usage import usage_overview, usage_totals
from query_api.rollup_sql import Scope
from query_api.store import QueryStore


async def dashboard(store: QueryStore, scope: Scope, period: Period, now: datetime) -> dict[str, Any]:
    span, previous = period.current, period.previous
    totals = await event_totals(store, scope, span)
    usage_sums = await usage_totals(store, scope, span)
    bounce, page_view_sessions = await bounce_rate(store, scope, span)
    performance = await performance_overview(store, scope, span, previous)
    usage, tenant_features = await usage_overview(store, scope, span, totals[1])
    trend_list = await trends(store, scope, span, previous, list(TREND_METRICS))
    found = insights(
        scope,
        str(span.first_day),
        now,
        InsightInputs(
            trends={t["metric"]: t for t in trend_list},
            issues=performance["issues"],
            bounce_rate=bounce,
            page_view_sessions=page_view_sessions,
            feature_adoption_rate=usage["feature_adoption_rate"],
            tenant_features=tenant_features,
        ),
    )
    return {
        "user_id": scope.user_id,
        "time_period": period.name.value,
        "overview": await overview(store, scope, span, totals, usage_sums, bounce),
        "performance": performance,
        "usage": usage,
        "activity": await activity_summary(store, scope, span),
        "trends": trend_list,
        "insights": found,
        "last_updated": now,
    }
