"""Helpers shared by the readers: pagination, stored-JSON decoding, time parameters and range bounds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from query_api.periods import ParameterError
from query_api.store import QueryStore
from schemas.times import as_utc

MAX_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Page:
    page: int
    limit: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    def pagination(self, total: int) -> dict[str, Any]:
        pages = math.ceil(total / self.limit) if total else 0
        return {
            "page": self.page,
            "per_page": self.limit,
            "total": total,
            "total_pages": pages,
            "has_next": self.page < pages,
            "has_previous": self.page > 1,
        }


def page_of(page: int, limit: int) -> Page:
    """Validated paging: ``page`` ≥ 1, ``limit`` 1.. (capped at 1,000)."""
    if page < 1:
        raise ParameterError("page", "page must be 1 or more")
    if limit < 1:
        raise ParameterError("limit", "limit must be 1 or more")
    return Page(page, min(limit, MAX_PAGE_SIZE))


def stored_json(text: str, empty: Any = None) -> Any:
    """Free-form JSON stored as a string column; an empty string is the field's empty value."""
    if not text:
        return {} if empty is None else empty
    return orjson.loads(text)


def ch_time(moment: datetime) -> str:
    """A UTC instant as a ``DateTime64(3)`` parameter value."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


utc = as_utc
"""A ``DateTime64(3, 'UTC')`` value from the driver, made aware (:func:`schemas.times.as_utc`)."""


def time_bound(parameter: str, value: str | None, zone: ZoneInfo, end: bool) -> datetime | None:
    """A listing filter bound: a date means that local day (inclusive at both ends), a date-time with an
    offset means that instant; a date-time without one is read in the tenant's zone."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            if end:
                day += timedelta(days=1)
            return datetime.combine(day, time(), zone).astimezone(UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ParameterError(parameter, f"{parameter} must be a date or an ISO-8601 date-time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def time_conditions(start: datetime | None, end: datetime | None, params: dict[str, Any]) -> list[str]:
    """``timestamp`` bounds ``[start, end)`` as conditions, their values added to ``params``."""
    conditions = []
    if start is not None:
        conditions.append("timestamp >= {start:DateTime64(3, 'UTC')}")
        params["start"] = ch_time(start)
    if end is not None:
        conditions.append("timestamp < {end:DateTime64(3, 'UTC')}")
        params["end"] = ch_time(end)
    return conditions


async def page_of_rows(
    store: QueryStore,
    table: str,
    columns: str,
    conditions: list[str],
    params: dict[str, Any],
    page: Page,
    order: str = "timestamp DESC, id DESC",
) -> tuple[Sequence[Sequence[Any]], int]:
    """One page of a raw table's rows (``FINAL``: a redelivered row shows once) and the total matching."""
    where = " AND ".join(conditions)
    params = {**params, "limit": page.limit, "offset": page.offset}
    rows = await store.rows(
        f"SELECT {columns} FROM {table} FINAL WHERE {where} "
        f"ORDER BY {order} LIMIT {{limit:UInt32}} OFFSET {{offset:UInt64}}",
        params,
    )
    total = await store.rows(f"SELECT count() FROM {table} FINAL WHERE {where}", params)
    return rows, int(total[0][0])
