"""``RealtimeMetrics`` (the seed names the type only): what is happening on a tenant's platform now, read from
the raw ``lms_activity`` and ``lms_telemetry`` rows of a bounded recent window — never from rollups, whose
smallest grain is a day.

Every figure is about event time (``timestamp``) in ``(as_of − window, as_of]``: people and sessions with any
learning event in the last :data:`WINDOW`; events per minute over the last :data:`CHART_MINUTES` minutes
(whole UTC minutes, the current one partial); video watch sessions playing within the window — a
``video_watched`` summary reported in the window whose ``end_time`` is absent or inside it (the LMS reports a
session while it plays or when it ends, so "in progress" means "playing at some time in the last 5
minutes"); requests and 5xx errors of the traffic samples in the window; and the newest traffic samples that
carry errors within the chart's span. A redelivered event counts once (distinct ``id``; telemetry read
``FINAL``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from query_api.lms.models import Percent
from query_api.lms.state import RAW_READ_SETTINGS
from query_api.readers.common import ch_time, utc
from query_api.store import QueryStore
from schemas import lms_measures as measures

WINDOW = timedelta(minutes=5)
CHART_MINUTES = 15
NEWEST_ERRORS = 10


@dataclass(frozen=True, slots=True)
class MinuteEvents:
    minute: datetime
    """the minute's first instant, UTC"""
    events: int


@dataclass(frozen=True, slots=True)
class ErrorSample:
    sampled_at: datetime
    source: str
    requests: int
    errors: int


@dataclass(frozen=True, slots=True)
class RealtimeMetrics:
    tenant_id: str
    as_of: datetime
    window_seconds: int
    active_users: int
    active_sessions: int
    events: int
    video_sessions_in_progress: int
    requests: int
    errors: int
    error_rate: Percent
    events_per_minute: list[MinuteEvents]
    """the last ``CHART_MINUTES`` minutes, oldest first, every minute listed"""
    newest_errors: list[ErrorSample]
    """newest first"""


def _minute(instant: datetime) -> datetime:
    return instant.replace(second=0, microsecond=0)


async def realtime_metrics(store: QueryStore, tenant_id: str, as_of: datetime) -> RealtimeMetrics:
    """The tenant's platform in the window ending at ``as_of`` (an aware instant; kept to the millisecond)."""
    as_of = as_of.astimezone(UTC).replace(microsecond=as_of.microsecond // 1000 * 1000)
    last_minute = _minute(as_of)
    chart_start = last_minute - timedelta(minutes=CHART_MINUTES - 1)
    params: dict[str, Any] = {
        "tenant": tenant_id,
        "since": ch_time(as_of - WINDOW),
        "chart": ch_time(chart_start),
        "now": ch_time(as_of),
        "newest": NEWEST_ERRORS,
    }
    recent = "timestamp > {since:DateTime64(3, 'UTC')}"
    bounded = (
        "tenant_id = {tenant:String} AND timestamp >= {chart:DateTime64(3, 'UTC')} "
        "AND timestamp <= {now:DateTime64(3, 'UTC')}"
    )
    store = store.tuned(RAW_READ_SETTINGS)
    figures, minutes, traffic, errors = await asyncio.gather(
        store.rows(
            f"SELECT uniqExactIf(user_id, {recent}), uniqExactIf(session_id, {recent} AND session_id IS NOT "
            f"NULL), uniqExactIf(id, {recent}), uniqExactIf((ifNull(session_id, ''), video_id), {recent} "
            "AND type = 'video_watched' AND ifNull(end_time > {since:DateTime64(3, 'UTC')}, 1)) "
            f"FROM lms_activity WHERE {bounded}",
            params,
        ),
        store.rows(
            "SELECT toStartOfMinute(timestamp) AS minute, uniqExact(id) FROM lms_activity "
            f"WHERE {bounded} GROUP BY minute",
            params,
        ),
        store.rows(
            f"SELECT sum(requests), sum(errors) FROM lms_telemetry FINAL WHERE {bounded} AND {recent} "
            "AND type = 'traffic'",
            params,
        ),
        store.rows(
            "SELECT timestamp, source, requests, errors FROM lms_telemetry FINAL "
            f"WHERE {bounded} AND type = 'traffic' AND errors > 0 "
            "ORDER BY timestamp DESC, source LIMIT {newest:UInt32}",
            params,
        ),
    )
    users, sessions, events, videos = (int(v) for v in figures[0])
    per_minute = {utc(minute): int(count) for minute, count in minutes}
    requests, failed = (int(v or 0) for v in traffic[0]) if traffic else (0, 0)
    return RealtimeMetrics(
        tenant_id=tenant_id,
        as_of=as_of,
        window_seconds=int(WINDOW.total_seconds()),
        active_users=users,
        active_sessions=sessions,
        events=events,
        video_sessions_in_progress=videos,
        requests=requests,
        errors=failed,
        error_rate=measures.error_rate(failed, requests),
        events_per_minute=[
            MinuteEvents(minute, per_minute.get(minute, 0))
            for minute in (chart_start + timedelta(minutes=i) for i in range(CHART_MINUTES))
        ],
        newest_errors=[
            ErrorSample(utc(when), str(source), int(count), int(bad)) for when, source, count, bad in errors
        ],
    )
