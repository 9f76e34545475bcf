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


async def video_watch_analytics(
    store: QueryStore, period: LmsPeriod, student_ids: Sequence[int]
) -> dict[int, list[VideoWatchAnalytics]]:
    """Every watch session started in ``period`` by each student of ``student_ids``, by start time."""
    keys = sorted(Person(measures.STUDENT, student).key for student in set(student_ids))
    out: dict[int, list[VideoWatchAnalytics]] = {student: [] for student in sorted(set(student_ids))}
    if not keys:
        return out
    params = {**period_params(period), "users": keys}
    rows = await store.rows(
        "SELECT lms_user_id, video_id, session_id, watch_duration, completion_percentage, start_time, "
        "end_time, device_type, playback_quality, buffer_events, seek_events FROM lms_activity FINAL "
        "WHERE tenant_id = {tenant:String} AND user_id IN {users:Array(String)} AND type = 'video_watched' "
        "AND start_time >= {start:DateTime64(3, 'UTC')} AND start_time < {end:DateTime64(3, 'UTC')} "
        "ORDER BY lms_user_id, start_time, video_id, session_id",
        params,
    )
    for student, video, session, seconds, completion, start, end, device, quality, buffers, seeks in rows:
        out.setdefault(int(student), []).append(
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
        )
    return out
