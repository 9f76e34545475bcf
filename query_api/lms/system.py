"""``SystemMetrics``: a tenant's platform over a period.

People and courses from the current state (``lms_users``, ``lms_courses`` FINAL, as of the period's end);
activity from ``rollup_lms_user_days`` (active users: ``uniqExact(user_id)`` over the period's rows, every
user type; logins and sessions), ``rollup_lms_course_activity`` (active courses) and
``rollup_lms_video_views``; traffic, uptime and errors from ``rollup_lms_platform_traffic``; storage from
``rollup_lms_platform_storage`` (each source's newest sample on or before the last day, summed). Formulas:
:mod:`schemas.lms_measures`.
"""

from __future__ import annotations

from collections.abc import Sequence

from query_api.lms.models import LmsPeriod, SystemMetrics
from query_api.lms.spans import COVER_SPANS, IN_RANGE, SPANS_WITH, UP_TO_SPANS, span_params, spanned
from query_api.store import QueryStore
from schemas import lms_measures as measures
from schemas.rollups import rollup

USER_DAYS = rollup("lms_user_days")
COURSE_ACTIVITY = rollup("lms_course_activity")
VIDEO_VIEWS = rollup("lms_video_views")
TRAFFIC = rollup("lms_platform_traffic")
STORAGE = rollup("lms_platform_storage")


_PARTS = ("users", "people", "courses", "active_courses", "videos", "traffic", "storage")
_WIDTHS = dict(zip(_PARTS, (1, 4, 1, 1, 1, 5, 1), strict=True))


def _part(name: str, select: str) -> str:
    """One part of the union: ``(part, span, [values])``, the values as ``Int64``."""
    return f"{SPANS_WITH}SELECT '{name}' AS part, span, {select}"


async def system_metrics_by_period(store: QueryStore, periods: Sequence[LmsPeriod]) -> list[SystemMetrics]:
    """``SystemMetrics`` of the tenant over each of ``periods`` (one tenant and zone), in one statement
    (a union of seven reads) whatever the number of periods."""
    if not periods:
        return []
    params = span_params(periods)
    tenant = "tenant_id = {tenant:String}"

    def covered(table: str) -> str:
        return spanned(table, f"{tenant} AND {IN_RANGE}", COVER_SPANS) + " GROUP BY span"

    def until_end(table: str, where: str, moment: str) -> str:
        ends = f"arrayFilter(i -> {moment} < ends[i], range(1, length(ends) + 1))"
        return spanned(table, f"{tenant} AND {where}", ends) + " GROUP BY span"

    parts = [
        _part(
            "users", "[toInt64(count())] " + until_end("lms_users FINAL", "is_deleted = 0", "signed_up_at")
        ),
        _part(
            "people",
            "arrayMap(x -> toInt64(x), [uniqExact(user_id), sum(logins), sum(sessions_ended), "
            f"sum(session_seconds)]) {covered(USER_DAYS.table)}",
        ),
        _part(
            "courses",
            "[toInt64(count())] "
            + until_end(
                "lms_courses FINAL",
                "is_deleted = 0 AND is_published = 1",
                "ifNull(published_at, toDateTime64(0, 3, 'UTC'))",
            ),
        ),
        _part("active_courses", f"[toInt64(uniqExact(course_id))] {covered(COURSE_ACTIVITY.table)}"),
        _part("videos", f"[toInt64(sum(watch_sessions))] {covered(VIDEO_VIEWS.table)}"),
        _part(
            "traffic",
            "arrayMap(x -> toInt64(x), [sum(requests), sum(errors), sum(bytes_served), "
            f"sum(observed_seconds), sum(up_seconds)]) {covered(TRAFFIC.table)}",
        ),
        _part(
            "storage",
            "[toInt64(sum(latest))] FROM (SELECT span, source, argMaxMerge(storage_used_bytes) AS latest "
            + spanned(
                STORAGE.table, f"{tenant} AND grain = 'daily' AND bucket <= {{spans_last:Date}}", UP_TO_SPANS
            )
            + " GROUP BY span, source) GROUP BY span",
        ),
    ]
    rows = await store.rows(" UNION ALL ".join(parts), params)
    found = {name: [[0] * width for _ in periods] for name, width in _WIDTHS.items()}
    for name, span, values in rows:
        found[str(name)][int(span) - 1] = [int(v) for v in values]
    users, people, courses, active_courses, videos, traffic, storage = (found[name] for name in _PARTS)
    out = []
    for i, period in enumerate(periods):
        active_users, logins, sessions_ended, session_seconds = people[i]
        requests, errors, bytes_served, observed, up = traffic[i]
        out.append(
            SystemMetrics(
                tenant_id=period.tenant_id,
                period_start=period.first,
                period_end=period.last,
                total_users=users[i][0],
                active_users=active_users,
                total_courses=courses[i][0],
                active_courses=active_courses[i][0],
                total_sessions=logins,
                average_session_duration=measures.average_minutes(session_seconds, sessions_ended),
                total_video_views=videos[i][0],
                total_storage_used=storage[i][0],
                bandwidth_used=bytes_served,
                system_uptime=measures.uptime(up, observed),
                error_rate=measures.error_rate(errors, requests),
            )
        )
    return out


async def system_metrics(store: QueryStore, period: LmsPeriod) -> SystemMetrics:
    """:func:`system_metrics_by_period` of one period."""
    return (await system_metrics_by_period(store, [period]))[0]
