"""``GET /analytics/dashboard/{user_id}`` and ``/insights``: every block of the seed's dashboard, from
rollups (plus the bounded read of the latest activities), with insights derived from the same numbers.

One statement per rollup serves every block that needs that rollup (:mod:`query_api.grouped`), and the
statements run concurrently, so a dashboard costs about ten statements whatever the period.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from query_api.cache import ResultCache
from query_api.periods import Period
from query_api.readers.activities import activity_rows, recent_activities, summary_from
from query_api.readers.insights import InsightInputs, insights
from query_api.readers.overview import bounce_rate, overview_block
from query_api.readers.performance import overview_from, performance_rows
from query_api.readers.trends import TREND_METRICS, rollup_trends
from query_api.readers.usage import usage_block, usage_facts, usage_totals
from query_api.rollup_sql import Scope
from query_api.store import QueryStore

EVENT_TRENDS = [TREND_METRICS[name] for name in ("events", "sessions", "errors")]
TREND_ORDER = ("events", "sessions", "page_views", "errors", "activities", "average_load_time")


async def dashboard(
    store: QueryStore, scope: Scope, period: Period, now: datetime, shared: ResultCache
) -> dict[str, Any]:
    span, previous = period.current, period.previous
    async with asyncio.TaskGroup() as group:
        events = group.create_task(
            rollup_trends(
                store, scope, span, previous, EVENT_TRENDS, ("event_name",), (), {"names": ("event_name",)}
            )
        )
        pages = group.create_task(
            rollup_trends(
                store,
                scope,
                span,
                previous,
                [TREND_METRICS["page_views"]],
                ("page", "sessions"),
                ("uniqExactMerge(sessions)",),
                {"pages": ("page",)},
            )
        )
        activities = group.create_task(activity_rows(store, scope, span, previous))
        performance = group.create_task(performance_rows(store, scope, span, previous))
        usage_sums = group.create_task(usage_totals(store, scope, span))
        bounce = group.create_task(bounce_rate(store, scope, span))
        facts = group.create_task(usage_facts(store, scope, span, shared))
        recent = group.create_task(recent_activities(store, scope, span))
    event_trends, event_rows = events.result()
    page_trends, page_rows = pages.result()
    activity_trend, activity_result = activities.result()
    load_trend, performance_result = performance.result()
    by_metric = {t["metric"]: t for t in [*event_trends, *page_trends, activity_trend, load_trend]}
    total_events = int(by_metric["events"]["current_value"])
    sessions = int(by_metric["sessions"]["current_value"])
    errors = (int(by_metric["errors"]["current_value"]), int(by_metric["errors"]["previous_value"]))
    performance_block = await overview_from(store, scope, span, performance_result, errors, shared)
    usage = usage_block(facts.result(), span, total_events, sessions)
    rate, page_view_sessions = bounce.result()
    top_events = sorted(
        ((keys[0], int(values[0])) for keys, values in event_rows.sets["names"]), key=lambda e: (-e[1], e[0])
    )
    top_pages = sorted(
        ((keys[0], int(values[0]), int(values[1])) for keys, values in page_rows.sets["pages"] if keys[0]),
        key=lambda p: (-p[1], p[0]),
    )
    found = insights(
        scope,
        str(span.first_day or span.start.date()),
        now,
        InsightInputs(
            trends=by_metric,
            issues=performance_block["issues"],
            bounce_rate=rate,
            page_view_sessions=page_view_sessions,
            feature_adoption_rate=usage["feature_adoption_rate"],
            tenant_features=len(facts.result().feature_users),
        ),
    )
    return {
        "user_id": scope.user_id,
        "time_period": period.name.value,
        "overview": overview_block(
            total_events, sessions, usage_sums.result(), rate, (top_events, top_pages)
        ),
        "performance": performance_block,
        "usage": usage,
        "activity": summary_from(activity_result, recent.result()),
        "trends": [by_metric[name] for name in TREND_ORDER],
        "insights": found,
        "last_updated": now,
    }
