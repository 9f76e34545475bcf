"""What the dashboard reads from the per-session rollup: the sessions, page-views, events and errors
trends, the bounce rate, active days, the first active day, the period's events by name and its pages.

The user's ``session_pages`` rows of the period and the one before it (a row per session and day, with
the session-day's page views by page and events by name since migration 0016) are read as they are and
everything is counted here: distinct sessions per period and per series point, page views, events,
errors, sessions with one page view, days with an event, views and viewing sessions per page, events per
name. Each rollup table a statement touches has a fixed cost in chDB before it reads a row, so this one
read replaces the user-events statement, the page-views statement and the old sessions read (ADR 0011).
The first active day is a second, one-column statement: carried in the same read as a window over the
user's whole history, the breakdown maps of every earlier row cost more than the statement.

A row written before migration 0016 has no breakdowns (its events by name add up to less than its
events); a range holding one gets no :class:`EventFacts` and the dashboard reads the user-events and
page-views rollups instead. An hourly range reads the same rows shaped from raw events, hourly buckets.
"""

from __future__ import annotations

import asyncio
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
_COLUMNS = "bucket, session_id, page_views, events, errors, views_by_page, events_by_name"


@dataclass(frozen=True)
class EventFacts:
    """The event figures of the range: the ``events`` and ``errors`` trends, the period's (event name,
    count) and (page, views, viewing sessions), largest first (ties by name)."""

    events: dict[str, Any]
    errors: dict[str, Any]
    top_events: list[tuple[str, int]]
    top_pages: list[tuple[str, int, int]]


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
    """The user's first day with an event, ever (``None`` without a row in the range)."""
    event_facts: EventFacts | None
    """``None`` when a row of the range predates the breakdowns (migration 0016)."""


@dataclass
class _Tally:
    sessions: set[str] = field(default_factory=set)
    page_views: int = 0
    events: int = 0
    errors: int = 0

    def count(self, session: str, page_views: int, events: int, errors: int) -> None:
        self.sessions.add(session)
        self.page_views += page_views
        self.events += events
        self.errors += errors


@dataclass
class _Reading:
    """The rows of a range added up: ``periods[True]`` is the current period, ``points`` its series."""

    periods: tuple[_Tally, _Tally] = field(default_factory=lambda: (_Tally(), _Tally()))
    points: dict[date | datetime, _Tally] = field(default_factory=dict)
    session_views: dict[str, int] = field(default_factory=dict)
    names: dict[str, int] = field(default_factory=dict)
    page_views: dict[str, int] = field(default_factory=dict)
    page_sessions: dict[str, set[str]] = field(default_factory=dict)
    active: set[date] = field(default_factory=set)
    complete: bool = True

    def add(self, point: date | datetime | None, row: Any) -> None:
        """One stored row; ``point`` is its series point, ``None`` for a row of the previous period."""
        _, session, views, events, errors, by_page, by_name = row
        views, events, errors = int(views), int(events), int(errors)
        if sum(by_name.values()) != events:  # written (or merged with a row written) before 0016
            self.complete = False
        if point is None:
            self.periods[False].count(session, views, events, errors)
            return
        self.periods[True].count(session, views, events, errors)
        self.points.setdefault(point, _Tally()).count(session, views, events, errors)
        self.session_views[session] = self.session_views.get(session, 0) + views
        for name, count in by_name.items():
            self.names[name] = self.names.get(name, 0) + int(count)
        for page, count in by_page.items():
            if page:
                self.page_views[page] = self.page_views.get(page, 0) + int(count)
                self.page_sessions.setdefault(page, set()).add(session)


async def session_facts(store: QueryStore, scope: Scope, span: Range, previous: Range) -> SessionFacts:
    if span.first_day is None or span.last_day is None or previous.first_day is None:
        return await _hourly(store, scope, span, previous)
    daily = f"{scope_filter(scope)} AND grain = '{Grain.DAY.value}'"
    params: dict[str, Any] = {**scope_params(scope), "first": previous.first_day, "last": span.last_day}
    rows, first_seen = await asyncio.gather(
        store.rows(
            f"SELECT {_COLUMNS} FROM {SESSION_PAGES.table} WHERE {daily} "
            "AND bucket BETWEEN {first:Date} AND {last:Date}",
            params,
        ),
        first_active_day(store, scope),
    )
    grain, first_day = series_grain(span.days), span.first_day
    reading = _Reading()
    for row in rows:
        day = as_date(row[0])
        if day >= first_day:
            reading.add(display_bucket(day, grain, first_day), row)
            reading.active.add(day)
        else:
            reading.add(None, row)
    return _facts(span, reading, len(reading.active), first_seen if rows else None)


async def _hourly(store: QueryStore, scope: Scope, span: Range, previous: Range) -> SessionFacts:
    """The last-24-hours view: session rows with UTC-hour buckets, shaped from raw events."""
    params: dict[str, Any] = {}
    now = raw_source(SESSION_PAGES, span, scope, params, "c", f"1, {_COLUMNS}")
    then = raw_source(SESSION_PAGES, previous, scope, params, "p", f"0, {_COLUMNS}")
    rows, first_seen = await asyncio.gather(
        store.rows(f"SELECT * FROM {now} UNION ALL SELECT * FROM {then}", params),
        first_active_day(store, scope),
    )
    reading = _Reading()
    for row in rows:
        reading.add(as_point(row[1]) if row[0] else None, row[1:])
    return _facts(span, reading, None, first_seen)


async def first_active_day(store: QueryStore, scope: Scope) -> date | None:
    """The bucket of the user's first row: the table's sort order (tenant, user, grain, bucket) lets
    ``ORDER BY … LIMIT 1`` stop at the first granule, cheaper than ``min()`` over every row (ADR 0011)."""
    rows = await store.rows(
        f"SELECT bucket FROM {SESSION_PAGES.table} WHERE {scope_filter(scope)} "
        f"AND grain = '{Grain.DAY.value}' ORDER BY bucket LIMIT 1",
        scope_params(scope),
    )
    return as_date(rows[0][0]) if rows else None


def _trend(name: str, reading: _Reading, span: Range, value: Any) -> dict[str, Any]:
    before, now = reading.periods
    series = {point: float(value(tally)) for point, tally in reading.points.items()}
    return trend_entry(name, float(value(now)), float(value(before)), series, span)


def _facts(span: Range, reading: _Reading, active_days: int | None, first_seen: date | None) -> SessionFacts:
    per_session = reading.session_views.values()
    viewed = sum(1 for count in per_session if count >= 1)
    bounced = sum(1 for count in per_session if count == 1)
    event_facts = None
    if reading.complete:
        sessions_of = reading.page_sessions
        pages = [(page, views, len(sessions_of[page])) for page, views in reading.page_views.items()]
        event_facts = EventFacts(
            events=_trend("events", reading, span, lambda t: t.events),
            errors=_trend("errors", reading, span, lambda t: t.errors),
            top_events=sorted(reading.names.items(), key=lambda e: (-e[1], e[0])),
            top_pages=sorted(pages, key=lambda p: (-p[1], p[0])),
        )
    return SessionFacts(
        sessions=_trend("sessions", reading, span, lambda t: len(t.sessions)),
        page_views=_trend("page_views", reading, span, lambda t: t.page_views),
        bounce_rate=round(ratio(bounced, viewed) or 0.0, 4),
        page_view_sessions=viewed,
        active_days=active_days,
        first_seen=first_seen,
        event_facts=event_facts,
    )
