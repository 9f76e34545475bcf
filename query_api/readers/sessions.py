"""What the dashboard reads from the per-session rollup: the sessions and page-views trends, the bounce
rate, active days and the first active day.

The user's ``session_pages`` rows of the period and the one before it (a row per session and day, so a
few rows per day) are read as they are, with the first day the user appears on (a window over the user's
rows in the same read: a second read of the table, even of one column, cost chDB ~2.5 ms), and everything
is counted here: distinct sessions per period and per series point, page views, sessions with one page
view, days with an event. Each rollup table a statement touches costs chDB a couple of milliseconds before
it reads a row, and ``uniqExactMerge`` over grouping sets a few more, so this one plain read replaces the
sessions half of the user-events statement, the page-views totals, the bounce-rate statement and the
active-days statement. An hourly range reads the same rows shaped from raw events, with hourly buckets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from query_api.formulas import ratio
from query_api.periods import Range, display_bucket, series_grain
from query_api.readers.trends import trend_entry
from query_api.rollup_sql import Scope, as_date, as_point, raw_source, scope_filter, scope_params
from query_api.store import QueryStore
from schemas.rollups import Grain, rollup

SESSION_PAGES = rollup("session_pages")


@dataclass(frozen=True)
class SessionFacts:
    sessions: dict[str, Any]
    """The ``sessions`` trend: distinct sessions of each period and of each series point."""
    page_views: dict[str, Any]
    """The ``page_views`` trend."""
    bounce_rate: float
    page_view_sessions: int
    """Sessions of the period with at least one page view."""
    active_days: int | None
    """Days of the period with at least one event; ``None`` for an hourly range (see ``usage_block``)."""
    first_seen: date | None
    """The user's first day with an event, ever."""


@dataclass
class _Tally:
    sessions: set[str] = field(default_factory=set)
    page_views: int = 0


async def session_facts(store: QueryStore, scope: Scope, span: Range, previous: Range) -> SessionFacts:
    if span.first_day is None or span.last_day is None or previous.first_day is None:
        return await _hourly(store, scope, span, previous)
    table, daily = SESSION_PAGES.table, f"{scope_filter(scope)} AND grain = '{Grain.DAY.value}'"
    params: dict[str, Any] = {**scope_params(scope), "first": previous.first_day, "last": span.last_day}
    # the first day comes from a window over the user's rows up to the range's end, in the same read
    rows = await store.rows(
        f"SELECT bucket, session_id, page_views, min(bucket) OVER () FROM {table} WHERE {daily} "
        "AND bucket <= {last:Date} QUALIFY bucket >= {first:Date}",
        params,
    )
    grain, first_day = series_grain(span.days), span.first_day
    # no row in the range: no active day, so no segment, whatever the first day was
    first_seen = as_date(rows[0][3]) if rows else None
    periods = (_Tally(), _Tally())
    points: dict[date | datetime, _Tally] = {}
    views: dict[str, int] = {}
    active: set[date] = set()
    for bucket, session, value, _ in rows:
        day = as_date(bucket)
        current = day >= first_day
        _count(periods[current], session, value)
        if current:
            _count(points.setdefault(display_bucket(day, grain, first_day), _Tally()), session, value)
            views[session] = views.get(session, 0) + int(value)
            active.add(day)
    return _facts(span, periods, points, views, len(active), first_seen)


async def _hourly(store: QueryStore, scope: Scope, span: Range, previous: Range) -> SessionFacts:
    """The last-24-hours view: session rows with UTC-hour buckets, shaped from raw events."""
    params: dict[str, Any] = {}
    now = raw_source(SESSION_PAGES, span, scope, params, "c", "1, bucket, session_id, page_views")
    then = raw_source(SESSION_PAGES, previous, scope, params, "p", "0, bucket, session_id, page_views")
    rows = await store.rows(f"SELECT * FROM {now} UNION ALL SELECT * FROM {then}", params)
    periods = (_Tally(), _Tally())
    points: dict[date | datetime, _Tally] = {}
    views: dict[str, int] = {}
    for current, bucket, session, value in rows:
        _count(periods[current], session, value)
        if current:
            _count(points.setdefault(as_point(bucket), _Tally()), session, value)
            views[session] = views.get(session, 0) + int(value)
    return _facts(span, periods, points, views, None, await first_active_day(store, scope))


async def first_active_day(store: QueryStore, scope: Scope) -> date | None:
    rows = await store.rows(
        f"SELECT min(bucket), count() FROM {SESSION_PAGES.table} WHERE {scope_filter(scope)} "
        f"AND grain = '{Grain.DAY.value}'",
        scope_params(scope),
    )
    return as_date(rows[0][0]) if rows[0][1] else None


def _count(tally: _Tally, session: str, page_views: int) -> None:
    tally.sessions.add(session)
    tally.page_views += int(page_views)


def _facts(
    span: Range,
    periods: tuple[_Tally, _Tally],
    points: dict[date | datetime, _Tally],
    views: dict[str, int],
    active_days: int | None,
    first_seen: date | None,
) -> SessionFacts:
    before, now = periods
    viewed = sum(1 for count in views.values() if count >= 1)
    bounced = sum(1 for count in views.values() if count == 1)
    return SessionFacts(
        sessions=trend_entry(
            "sessions",
            float(len(now.sessions)),
            float(len(before.sessions)),
            {point: float(len(tally.sessions)) for point, tally in points.items()},
            span,
        ),
        page_views=trend_entry(
            "page_views",
            float(now.page_views),
            float(before.page_views),
            {point: float(tally.page_views) for point, tally in points.items()},
            span,
        ),
        bounce_rate=round(ratio(bounced, viewed) or 0.0, 4),
        page_view_sessions=viewed,
        active_days=active_days,
        first_seen=first_seen,
    )
