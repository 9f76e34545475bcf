"""The dashboard's ``overview`` block: events, sessions, bounce rate, top events and pages (rollups only)."""

from __future__ import annotations

from typing import Any

from query_api.formulas import share_pct
from query_api.periods import Range
from query_api.readers.usage import UsageTotals
from query_api.rollup_sql import Scope, select_rows
from query_api.store import QueryStore
from schemas.rollups import rollup

TOP_EVENTS = 5
TOP_PAGES = 5


async def top_pages(store: QueryStore, scope: Scope, span: Range) -> list[tuple[str, int, int]]:
    """(page, views, viewing sessions) of the range, most viewed first (ties by page)."""
    params: dict[str, Any] = {}
    sql = select_rows(
        rollup("page_views"),
        span,
        scope,
        params,
        "page, sum(views), uniqExactMerge(sessions)",
        where="page != ''",
        tail="GROUP BY page",
    )
    rows = await store.rows(sql, params)
    return sorted(((r[0], int(r[1]), int(r[2])) for r in rows), key=lambda p: (-p[1], p[0]))


def overview_block(
    events: int,
    sessions: int,
    usage: UsageTotals,
    bounce: float,
    tops: tuple[list[tuple[str, int]], list[tuple[str, int, int]]],
) -> dict[str, Any]:
    """The overview block; ``tops`` are (event name, count) and (page, views, sessions), largest first."""
    top_events, top_pages = tops[0][:TOP_EVENTS], tops[1][:TOP_PAGES]
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
