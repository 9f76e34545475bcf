"""``GET /analytics/activities/{user_id}`` (raw, paginated) and its ``/summary`` (from rollups)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from query_api.formulas import share_pct
from query_api.grouped import Grouped
from query_api.periods import Range
from query_api.readers.common import Page, ch_time, page_of_rows, stored_json, time_conditions, utc
from query_api.readers.trends import TREND_METRICS, rollup_trends
from query_api.rollup_sql import Scope
from query_api.store import QueryStore

COLUMNS = (
    "toString(id), user_id, session_id, toString(activity_type), toString(activity_category), description, "
    "details, metadata, toString(severity), tags, timestamp"
)
RECENT_ACTIVITIES = 5


async def list_activities(
    store: QueryStore,
    scope: Scope,
    page: Page,
    filters: dict[str, str | None],
    start: datetime | None,
    end: datetime | None,
) -> tuple[list[dict[str, Any]], int]:
    """One page of a user's activities (filters: ``activity_type``, ``activity_category``, ``severity``)."""
    conditions = ["tenant_id = {tenant:String}", "user_id = {user:String}"]
    params: dict[str, Any] = {"tenant": scope.tenant_id, "user": scope.user_id}
    for column, value in filters.items():
        if value is not None:
            conditions.append(f"{column} = {{{column}:String}}")
            params[column] = value
    conditions += time_conditions(start, end, params)
    rows, total = await page_of_rows(store, "activity_logs", COLUMNS, conditions, params, page)
    return [_activity(r) for r in rows], total


def _activity(r: Any) -> dict[str, Any]:
    return {
        "id": r[0],
        "user_id": r[1],
        "session_id": r[2],
        "activity_type": r[3],
        "activity_category": r[4],
        "description": r[5],
        "details": stored_json(r[6]),
        "metadata": stored_json(r[7]),
        "severity": r[8],
        "tags": list(r[9]),
        "timestamp": utc(r[10]),
    }


BREAKDOWN = ("activity_type", "activity_category", "severity")


async def activity_rows(
    store: QueryStore, scope: Scope, span: Range, previous: Range
) -> tuple[dict[str, Any], Grouped]:
    """The activities trend and, from the same statement, the counts by type, category and severity."""
    found, result = await rollup_trends(
        store, scope, span, previous, [TREND_METRICS["activities"]], BREAKDOWN, (), {"breakdown": BREAKDOWN}
    )
    return found[0], result


async def recent_activities(store: QueryStore, scope: Scope, span: Range) -> list[dict[str, Any]]:
    """The latest activities of the range: the one raw read of the dashboard, bounded (``LIMIT 5`` in the
    table's own sort order within the range), so its cost does not grow with the user's history."""
    rows = await store.rows(
        "SELECT toString(id), description, timestamp, toString(severity), toString(activity_type) "
        "FROM activity_logs WHERE tenant_id = {tenant:String} AND user_id = {user:String} "
        "AND timestamp >= {start:DateTime64(3, 'UTC')} AND timestamp < {end:DateTime64(3, 'UTC')} "
        "ORDER BY timestamp DESC, id DESC LIMIT 1 BY id LIMIT {recent:UInt8}",
        {
            "tenant": scope.tenant_id,
            "user": scope.user_id,
            "start": ch_time(span.start),
            "end": ch_time(span.end),
            "recent": RECENT_ACTIVITIES,
        },
    )
    return [
        {"id": r[0], "description": r[1], "timestamp": utc(r[2]), "severity": r[3], "activity_type": r[4]}
        for r in rows
    ]


def summary_from(result: Grouped, recent: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [(*keys, values[0]) for keys, values in result.sets["breakdown"]]
    total = sum(int(r[3]) for r in rows)
    return {
        "total_activities": total,
        "activity_breakdown": breakdown(rows, 0, total),
        "category_breakdown": breakdown(rows, 1, total),
        "severity_breakdown": breakdown(rows, 2, total),
        "recent_activities": recent,
    }


async def activity_summary(store: QueryStore, scope: Scope, span: Range, previous: Range) -> dict[str, Any]:
    """``GET /analytics/activities/{user_id}/summary``."""
    (_, result), recent = await asyncio.gather(
        activity_rows(store, scope, span, previous), recent_activities(store, scope, span)
    )
    return summary_from(result, recent)


def breakdown(rows: Any, column: int, total: int) -> list[dict[str, Any]]:
    """Counts by one dimension, largest first (ties by name), each with its share of ``total``."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[column]] = counts.get(row[column], 0) + int(row[3])
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [{"type": name, "count": count, "percentage": share_pct(count, total)} for name, count in ordered]
