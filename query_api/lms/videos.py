"""``VideoWatchAnalytics``: the ``video_watched`` events as sent (ADR 0015 §5), read from the raw
``lms_activity`` table for students, from its copy sorted by course (``lms_video_sessions``) for a course's
every student (a redelivered event shows once), over a period.

A watch session belongs to the period its ``start_time`` falls in (local days of the tenant's zone);
``student_id`` is the student's LMS id, ``watch_duration`` seconds, ``completion_percentage`` 0–100 with
two decimals; optional fields the client left out are ``None``.

``VideoAnalytics`` (the admin ``courses/{courseId}/videos`` read; the seed names the type only): per video of
a course, from ``rollup_lms_video_views`` (a session counts on the local day of its event's ``timestamp``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from query_api.lms.grains import period_condition
from query_api.lms.models import LmsPeriod, Percent, Person, VideoWatchAnalytics
from query_api.lms.state import RAW_READ_SETTINGS, period_params
from query_api.readers.common import utc
from query_api.store import QueryStore
from schemas import lms_measures as measures
from schemas.lms_rows import LMS_RAW_TABLES, LMS_VIDEO_SESSIONS
from schemas.rollups import rollup
from schemas.topics import Stream

_SESSION_COLUMNS = (
    "lms_user_id, video_id, session_id, watch_duration, completion_percentage, start_time, end_time, "
    "device_type, playback_quality, buffer_events, seek_events"
)


def _deduplicated(table: str, columns: str, where: str) -> str:
    """The rows of ``table`` (``lms_activity``, or its copy of the watch sessions by course) that ``where``
    keeps, a redelivered event once: the newest received copy per event (person, time, id), as ``FINAL``
    (ReplacingMergeTree(received_at)) would keep it. ``FINAL`` merges every row of
    the tenant's range before the filter (a course's sessions of a month: 190 ms of CPU against 60 ms
    here); filtering first is the same answer because copies of a row are one event delivered again (ADR
    0004; a client's retry of an id is dropped before the tables, ADR 0013 §5), so a filter keeps all of them
    or none (ADR 0022)."""
    return (
        f"(SELECT {columns} FROM {table} WHERE {where} "
        "ORDER BY received_at DESC LIMIT 1 BY user_id, timestamp, id)"
    )


async def video_sessions(
    store: QueryStore,
    period: LmsPeriod,
    *,
    student_ids: Sequence[int] | None = None,
    course_id: int | None = None,
    video_id: int | None = None,
    page: tuple[int, int] | None = None,
) -> tuple[list[VideoWatchAnalytics], int]:
    """The watch sessions started in ``period``, of the students ``student_ids`` (``None``: every
    student), in course ``course_id`` and of video ``video_id`` when given; by student, then start time;
    ``page`` = (offset, limit) of the ones wanted (``None``: all). Answers them and how many there are in
    all (the page is cut in the statement: a course's sessions can be many)."""
    offset, limit = page if page is not None else (0, 2**62)
    store = store.tuned(RAW_READ_SETTINGS)
    params = {
        **period_params(period),
        "course": course_id or 0,
        "video": video_id or 0,
        "offset": offset,
        "limit": limit,
    }
    # a course's sessions of every student: a range of the copy sorted by course and start time; a student's
    # sessions: lms_activity, sorted by person
    by_course = course_id is not None and student_ids is None
    table = LMS_VIDEO_SESSIONS if by_course else LMS_RAW_TABLES[Stream.LMS_ACTIVITY]
    where = [
        "tenant_id = {tenant:String}",
        *([] if by_course else ["type = 'video_watched'"]),
        "start_time >= {start:DateTime64(3, 'UTC')}",
        "start_time < {end:DateTime64(3, 'UTC')}",
    ]
    if student_ids is not None:
        keys = sorted(Person(measures.STUDENT, student).key for student in set(student_ids))
        if not keys:
            return [], 0
        params["users"] = keys
        where.append("user_id IN {users:Array(String)}")
    if course_id is not None:
        where.append("course_id = {course:UInt64}")
    if video_id is not None:
        where.append("video_id = {video:UInt64}")
    sessions = _deduplicated(table, _SESSION_COLUMNS, " AND ".join(where))
    rows = await store.rows(
        f"SELECT {_SESSION_COLUMNS}, count() OVER () FROM {sessions} "
        "ORDER BY lms_user_id, start_time, video_id, session_id LIMIT {limit:UInt64} OFFSET {offset:UInt64}",
        params,
    )
    total = int(rows[0][-1]) if rows else 0
    if not rows and offset:  # a page past the end: the count still answers
        counted = await store.rows(f"SELECT count() FROM {sessions}", params)
        total = int(counted[0][0])
    return [
        VideoWatchAnalytics(
            video_id=int(video),
            student_id=int(student),
            session_id=str(session),
            watch_duration=int(seconds),
            completion_percentage=Decimal(completion).quantize(Decimal("0.01")),
            start_time=utc(start),
            end_time=None if end is None else utc(end),
            device_type=device,
            playback_quality=quality,
            buffer_events=None if buffers is None else int(buffers),
            seek_events=None if seeks is None else int(seeks),
            tenant_id=period.tenant_id,
        )
        for student, video, session, seconds, completion, start, end, device, quality, buffers, seeks, _ in (
            rows
        )
    ], total


async def video_watch_analytics(
    store: QueryStore, period: LmsPeriod, student_ids: Sequence[int]
) -> dict[int, list[VideoWatchAnalytics]]:
    """Every watch session started in ``period`` by each student of ``student_ids``, by start time."""
    out: dict[int, list[VideoWatchAnalytics]] = {student: [] for student in sorted(set(student_ids))}
    sessions, _ = await video_sessions(store, period, student_ids=student_ids)
    for session in sessions:
        out.setdefault(session.student_id, []).append(session)
    return out


VIDEO_VIEWS = rollup("lms_video_views")


@dataclass(frozen=True, slots=True)
class VideoAnalytics:
    """One video of a course over a period: its watch sessions (counted on the local day of the event),
    viewers, time watched (seconds, as ``VideoWatchAnalytics.watch_duration``), completion and playback
    trouble, and the sessions by device type and playback quality (``""``: not reported)."""

    video_id: int
    course_id: int
    tenant_id: str
    period_start: date
    period_end: date
    watch_sessions: int
    unique_viewers: int
    total_watch_seconds: int
    average_completion: Percent
    """mean ``completion_percentage`` of the sessions"""
    completion_rate: Percent
    """share of sessions that reached the completed threshold"""
    buffer_events: int
    seek_events: int
    sessions_by_device: dict[str, int]
    sessions_by_quality: dict[str, int]


async def video_analytics(
    store: QueryStore, period: LmsPeriod, course_id: int, video_id: int | None = None
) -> list[VideoAnalytics]:
    """``VideoAnalytics`` of every video of ``course_id`` watched in ``period`` (``video_id`` only, when
    given), by video id."""
    params: dict[str, Any] = {**period_params(period), "course": course_id, "video": video_id or 0}
    covered = period_condition(period.first, period.last, params)
    only = " AND video_id = {video:UInt64}" if video_id is not None else ""
    rows = await store.rows(
        "SELECT video_id, sum(watch_sessions), uniqExact(user_id), sum(watch_seconds), "
        "sum(completion_centi), sum(completed_sessions), sum(buffer_events), sum(seek_events), "
        "sumMap(map(device_type, watch_sessions)), sumMap(map(playback_quality, watch_sessions)) "
        f"FROM {VIDEO_VIEWS.table} WHERE tenant_id = {{tenant:String}} AND course_id = {{course:UInt64}}"
        f"{only} AND {covered} GROUP BY video_id ORDER BY video_id",
        params,
    )
    out = []
    for video, sessions, viewers, seconds, completion, completed, buffers, seeks, devices, qualities in rows:
        count = int(sessions)
        out.append(
            VideoAnalytics(
                video_id=int(video),
                course_id=course_id,
                tenant_id=period.tenant_id,
                period_start=period.first,
                period_end=period.last,
                watch_sessions=count,
                unique_viewers=int(viewers),
                total_watch_seconds=int(seconds),
                average_completion=measures.mean_percent_centi(int(completion), count),
                completion_rate=measures.percent(int(completed), count),
                buffer_events=int(buffers),
                seek_events=int(seeks),
                sessions_by_device={str(k): int(v) for k, v in sorted(dict(devices).items())},
                sessions_by_quality={str(k): int(v) for k, v in sorted(dict(qualities).items())},
            )
        )
    return out
