"""``GET /analytics/events``: raw events of a tenant, filtered, newest first, paginated."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from query_api.readers.common import Page, page_of_rows, stored_json, time_conditions, utc
from query_api.store import QueryStore

COLUMNS = (
    "toString(id), user_id, session_id, toString(event_type), event_name, toString(event_category), "
    "properties, timestamp, toString(source), toString(platform)"
)


async def list_events(
    store: QueryStore,
    tenant_id: str,
    page: Page,
    user_id: str | None = None,
    event_type: str | None = None,
    event_category: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """One page of events and the total matching, newest first (``FINAL``: a redelivered event shows once)."""
    conditions = ["tenant_id = {tenant:String}"]
    params: dict[str, Any] = {"tenant": tenant_id}
    for column, value in (
        ("user_id", user_id),
        ("event_type", event_type),
        ("event_category", event_category),
    ):
        if value is not None:
            conditions.append(f"{column} = {{{column}:String}}")
            params[column] = value
    conditions += time_conditions(start, end, params)
    rows, total = await page_of_rows(store, "analytics_events", COLUMNS, conditions, params, page)
    events = [
        {
            "id": r[0],
            "user_id": r[1],
            "session_id": r[2],
            "event_type": r[3],
            "event_name": r[4],
            "event_category": r[5],
            "properties": stored_json(r[6]),
            "timestamp": utc(r[7]),
            "source": r[8],
            "platform": r[9],
        }
        for r in rows
    ]
    return events, total
