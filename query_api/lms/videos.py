"""``VideoWatchAnalytics``: the ``video_watched`` events as sent (ADR 0015 §5), read from the raw
``lms_activity`` table (``FINAL``: a redelivered event shows once), for students and a period.

A watch session belongs to the period its ``start_time`` falls in (local days of the tenant's zone);
``student_id`` is the student's LMS id, ``watch_duration`` seconds, ``completion_percentage`` 0–100 with
two decimals; optional fields the client left out are ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from query_api.lms.models import LmsPeriod, Person, VideoWatchAnalytics
from query_api.lms.state import period_params
from query_api.readers.common import utc
from query_api.store import QueryStore
from schemas import lms_measures as measures


async def video_sessions(
    store: QueryStore,
    period: LmsPeriod,
    *,
    student_ids: Sequence[int] | None = None,
    course_id: int | None = None,
    video_id: int | None = None,
) -> list[VideoWatchAnalytics]:
    """Every watch session started in ``period``, of the students ``student_ids`` (``None``: every
    student), in course ``course_id`` and of video ``video_id`` when given; by student, then start time."""
    params = {**period_params(period), "course": course_id or 0, "video": video_id or 0}
    where = [
        "tenant_id = {tenant:String}",
        "type = 'video_watched'",
        "start_time >= {start:DateTime64(3, 'UTC')}",
        "start_time < {end:DateTime64(3, 'UTC')}",
    ]
    if student_ids is not None:
        keys = sorted(Person(measures.STUDENT, student).key for student in set(student_ids))
        if not keys:
            return []
        params["users"] = keys
        where.append("user_id IN {users:Array(String)}")
    if course_id is not None:
        where.append("course_id = {course:UInt64}")
    if video_id is not None:
        where.append("video_id = {video:UInt64}")
    rows = await store.rows(
        "SELECT lms_user_id, video_id, session_id, watch_duration, completion_percentage, start_time, "
        "end_time, device_type, playback_quality, buffer_events, seek_events FROM lms_activity FINAL "
        f"WHERE {' AND '.join(where)} ORDER BY lms_user_id, start_time, video_id, session_id",
        params,
    )
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
        for student, video, session, seconds, completion, start, end, device, quality, buffers, seeks in rows
    ]


async def video_watch_analytics(
    store: QueryStore, period: LmsPeriod, student_ids: Sequence[int]
) -> dict[int, list[VideoWatchAnalytics]]:
    """Every watch session started in ``period`` by each student of ``student_ids``, by start time."""
    out: dict[int, list[VideoWatchAnalytics]] = {student: [] for student in sorted(set(student_ids))}
    for session in await video_sessions(store, period, student_ids=student_ids):
        out.setdefault(session.student_id, []).append(session)
    return out
