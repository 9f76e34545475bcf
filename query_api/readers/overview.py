"""The dashboard's ``overview`` block: events, sessions, bounce rate, top events and pages (rollups only)."""

from __future__ import annotations

from typing import Any

from query_api.formulas import ratio, share_pct
from query_api.periods import Range
from query_api.readers.usage import UsageTotals
from query_api.rollup_sql import Scope, source
from query_api.store import QueryStore
from schemas.rollups import rollup

TOP_EVENTS = 5
TOP_PAGES = 5


async def event_totals(store: QueryStore, scope: Scope, span: Range) -> tuple[int, int]:
    """(events, unique sessions) in the range; sessions are exact (merged ``uniqExact`` states)."""
    params: dict[str, Any] = {}
    rows_of = source(rollup("user_events"), span, scope, params)
    rows = await store.rows(f"SELECT sum(events), uniqExactMerge(sessions) FROM {rows_of}", params)
    return int(rows[0][0] or 0), int(rows[0][1] or 0)


async def bounce_rate(store: QueryStore, scope: Scope, span: Range) -> tuple[float, int]:
    """(bounce rate, sessions with a page view): sessions with exactly one page view in the range over
    sessions with at least one (0 without any)."""
    params: dict[str, Any] = {}
    rows_of = source(rollup("session_pages"), span, scope, params)
    rows = await store.rows(
        "SELECT countIf(views = 1), countIf(views >= 1) FROM "
        f"(SELECT session_id, sum(page_views) AS views FROM {rows_of} GROUP BY session_id)",
        params,
    )
    return round(ratio(int(rows[0][0]), int(rows[0][1])) or 0.0, 4), int(rows[0][1])


async def overview(
    store: QueryStore, scope: Scope, span: Range, totals: tuple[int, int], usage: UsageTotals, bounce: float
) -> dict[str, Any]:
    events, sessions = totals
    params: dict[str, Any] = {}
    rows_of = source(rollup("user_events"), span, scope, params)
    top_events = await store.rows(
        f"SELECT event_name, sum(events) AS n FROM {rows_of} GROUP BY event_name "
        f"ORDER BY n DESC, event_name LIMIT {TOP_EVENTS}",
        params,
    )
    params = {}
    rows_of = source(rollup("page_views"), span, scope, params, where="page != ''")
    top_pages = await store.rows(
        f"SELECT page, sum(views) AS n, uniqExactMerge(sessions) FROM {rows_of} GROUP BY page "
        f"ORDER BY n DESC, page LIMIT {TOP_PAGES}",
        params,
    )
    return {
        "total_events": events,
        "unique_sessions": sessions,
        "average_session_duration": usage.value("average_session_duration"),
        "bounce_rate": bounce,
        "engagement_score": usage.value("engagement_score"),
        "top_events": [
            {"event_name": r[0], "count": int(r[1]), "percentage": share_pct(int(r[1]), events)}
            for r in top_events
        ],
        "top_pages": [{"page": r[0], "views": int(r[1]), "unique_views": int(r[2])} for r in top_pages],
    }
