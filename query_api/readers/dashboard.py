"""``GET /analytics/dashboard/{user_id}`` and ``/insights``: every block of the seed's dashboard, from
rollups (plus the bounded read of the latest activities), with insights derived from the same numbers.

One statement per rollup serves every block that needs that rollup (:mod:`query_api.grouped`), and the
statements run concurrently: six statements whatever the period (and, once a minute per tenant, the
tenant-wide aggregates). Events, errors, sessions, page views, top events and pages, bounce rate and
active days all come from one plain read of the user's per-session rows plus a one-column read of the
first active day (:mod:`query_api.readers.sessions`, ADR 0011); the usage totals and feature counts from
one read of the daily summaries (:func:`query_api.readers.usage.usage_summary`). A range holding
per-session rows written before their breakdowns existed reads the user-events and page-views rollups
for those figures instead (:func:`stored_event_facts`).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from query_api.admission import leave
from query_api.cache import ResultCache
from query_api.periods import Period, Range
from query_api.readers.activities import activity_rows, recent_activities, summary_from
from query_api.readers.insights import InsightInputs, insights
from query_api.readers.overview import overview_block, top_pages
from query_api.readers.performance import overview_from, performance_rows
from query_api.readers.sessions import EventFacts, session_facts
from query_api.readers.trends import TREND_METRICS, rollup_trends
from query_api.readers.usage import UsageFacts, tenant_feature_users, usage_block, usage_summary
from query_api.rollup_sql import Scope
from query_api.store import QueryStore

EVENT_TRENDS = [TREND_METRICS[name] for name in ("events", "errors")]
TREND_ORDER = ("events", "sessions", "page_views", "errors", "activities", "average_load_time")


async def dashboard(
    store: QueryStore, scope: Scope, period: Period, now: datetime, shared: ResultCache
) -> dict[str, Any]:
    span, previous = period.current, period.previous
    async with asyncio.TaskGroup() as group:
        activities = group.create_task(activity_rows(store, scope, span, previous))
        performance = group.create_task(performance_rows(store, scope, span, previous))
        usage_read = group.create_task(usage_summary(store, scope, span))
        sessions_read = group.create_task(session_facts(store, scope, span, previous))
        recent = group.create_task(recent_activities(store, scope, span))
    activity_trend, activity_result = activities.result()
    load_trend, performance_result = performance.result()
    summary, session_read = usage_read.result(), sessions_read.result()
    feed = session_read.event_facts or await stored_event_facts(store, scope, span, previous)
    by_metric = {
        t["metric"]: t
        for t in [
            feed.events,
            feed.errors,
            session_read.sessions,
            session_read.page_views,
            activity_trend,
            load_trend,
        ]
    }
    total_events = int(by_metric["events"]["current_value"])
    sessions = int(by_metric["sessions"]["current_value"])
    errors = (int(by_metric["errors"]["current_value"]), int(by_metric["errors"]["previous_value"]))
    # the rest reads only tenant-wide aggregates, usually cached: no slot held while one is computed
    leave()
    feature_users = await tenant_feature_users(store, scope, span, shared)
    performance_block = await overview_from(store, scope, span, performance_result, errors, shared)
    facts = UsageFacts(
        session_read.active_days, session_read.first_seen, summary.feature_counts, feature_users
    )
    usage = usage_block(facts, span, total_events, sessions)
    rate, page_view_sessions = session_read.bounce_rate, session_read.page_view_sessions
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
            tenant_features=len(facts.feature_users),
        ),
    )
    return {
        "user_id": scope.user_id,
        "time_period": period.name.value,
        "overview": overview_block(
            total_events, sessions, summary.totals, rate, (feed.top_events, feed.top_pages)
        ),
        "performance": performance_block,
        "usage": usage,
        "activity": summary_from(activity_result, recent.result()),
        "trends": [by_metric[name] for name in TREND_ORDER],
        "insights": found,
        "last_updated": now,
    }


async def stored_event_facts(store: QueryStore, scope: Scope, span: Range, previous: Range) -> EventFacts:
    """The event figures from the user-events and page-views rollups: for a range holding per-session
    rows written before those rows carried them (migration 0016)."""
    async with asyncio.TaskGroup() as group:
        events = group.create_task(
            rollup_trends(
                store, scope, span, previous, EVENT_TRENDS, ("event_name",), (), {"names": ("event_name",)}
            )
        )
        pages = group.create_task(top_pages(store, scope, span))
    trends, rows = events.result()
    top_events = sorted(
        ((keys[0], int(values[0])) for keys, values in rows.sets["names"]), key=lambda e: (-e[1], e[0])
    )
    return EventFacts(trends[0], trends[1], top_events, pages.result())
