"""``SystemMetrics``: a tenant's platform over a period.

People and courses from the current state (``lms_users``, ``lms_courses`` FINAL, as of the period's end; the
courses from the caller's catalog snapshot when it has one);
activity from ``rollup_lms_user_days`` (active users: ``uniqExact(user_id)`` over the period's rows, every
user type; logins and sessions; video views; active courses, merging the users' ``courses_accessed``: the
same events ``rollup_lms_video_views`` and ``rollup_lms_course_activity`` count); traffic, uptime and
errors from ``rollup_lms_platform_traffic``; storage from ``rollup_lms_platform_storage`` (each source's
newest sample on or before the last day, summed). Formulas: :mod:`schemas.lms_measures`. Periods are
assigned by :class:`query_api.lms.spans.PeriodIndex`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

from query_api.lms.models import LmsPeriod, SystemMetrics
from query_api.lms.spans import PeriodIndex
from query_api.lms.state import CourseEntry
from query_api.store import QueryStore
from schemas import lms_measures as measures
from schemas.rollups import rollup

USER_DAYS = rollup("lms_user_days")
TRAFFIC = rollup("lms_platform_traffic")
STORAGE = rollup("lms_platform_storage")


_PARTS = ("users", "people", "courses", "traffic", "storage")
_WIDTHS = dict(zip(_PARTS, (1, 6, 1, 5, 1), strict=True))


def _part(name: str, select: str) -> str:
    """One part of the union: ``(part, span, [values])``, the values as ``Int64``."""
    return f"SELECT '{name}' AS part, span, {select}"


_TENANT = "tenant_id = {tenant:String}"


def _covered(table: str, columns: str) -> str:
    """``FROM`` the ``columns`` of ``table``'s rows, once per period whose cover holds the row."""
    return (
        f"FROM (SELECT grain, bucket, {columns} FROM {table} WHERE {_TENANT} AND {PeriodIndex.COVER_ROWS}) "
        f"ARRAY JOIN {PeriodIndex.COVER_JOIN} AS span GROUP BY span"
    )


def _until_end(table: str, where: str, moment: str) -> str:
    """``FROM`` ``table``'s rows kept by ``where``, once per period whose end is after ``moment``."""
    return (
        f"FROM (SELECT {moment} AS moment FROM {table} WHERE {_TENANT} AND {where}) "
        f"ARRAY JOIN {PeriodIndex.EVERY_SPAN} AS span WHERE moment {PeriodIndex.BEFORE_END} GROUP BY span"
    )


_PART_SQL = dict(
    zip(
        _PARTS,
        [
            _part(
                "users",
                "[toInt64(count())] " + _until_end("lms_users FINAL", "is_deleted = 0", "signed_up_at"),
            ),
            # people, sessions, video views and active courses from the same rows: a user-day's videos and
            # courses are counted from the same events as rollup_lms_video_views' sessions and
            # rollup_lms_course_activity's courses (ADR 0022)
            _part(
                "people",
                "[toInt64(uniqExact(user_id)), toInt64(sum(logins)), toInt64(sum(sessions_ended)), "
                "toInt64(sum(session_seconds)), toInt64(sum(video_views)), "
                "toInt64(uniqExactMerge(courses_accessed))] "
                + _covered(
                    USER_DAYS.table,
                    "user_id, logins, sessions_ended, session_seconds, video_views, courses_accessed",
                ),
            ),
            _part(
                "courses",
                "[toInt64(count())] "
                + _until_end(
                    "lms_courses FINAL",
                    "is_deleted = 0 AND is_published = 1",
                    "ifNull(published_at, toDateTime64(0, 3, 'UTC'))",
                ),
            ),
            _part(
                "traffic",
                "[toInt64(sum(requests)), toInt64(sum(errors)), toInt64(sum(bytes_served)), "
                "toInt64(sum(observed_seconds)), toInt64(sum(up_seconds))] "
                + _covered(TRAFFIC.table, "requests, errors, bytes_served, observed_seconds, up_seconds"),
            ),
            # each source's newest sample by each distinct last day (span: the number of that day)
            _part(
                "storage",
                "[toInt64(sum(latest))] FROM (SELECT up_to AS span, source, "
                "argMaxMerge(storage_used_bytes) AS latest "
                f"FROM (SELECT bucket, source, storage_used_bytes FROM {STORAGE.table} WHERE {_TENANT} "
                "AND grain = 'daily' AND bucket <= {spans_last:Date}) "
                f"ARRAY JOIN {PeriodIndex.UP_TO_JOIN} AS up_to GROUP BY up_to, source) GROUP BY span",
            ),
        ],
        strict=True,
    )
)


@cache
def _sql(parts: frozenset[str]) -> str:
    """The union of ``parts`` (each costs the statement its planning, so a reader leaves out what it has)."""
    return " UNION ALL ".join(sql for name, sql in _PART_SQL.items() if name in parts)


async def system_metrics_by_period(
    store: QueryStore, periods: Sequence[LmsPeriod], catalog: Mapping[int, CourseEntry] | None = None
) -> list[SystemMetrics]:
    """``SystemMetrics`` of the tenant over each of ``periods`` (one tenant and zone), in one statement
    (a union of five reads, four with ``catalog``) whatever the number of periods. ``catalog``: the tenant's
    live courses now (:attr:`query_api.lms.catalog_cache.CatalogSnapshot.courses`), which give the published
    courses; else they are read."""
    if not periods:
        return []
    index = PeriodIndex(periods)
    found = {name: [[0] * width for _ in periods] for name, width in _WIDTHS.items()}
    parts = frozenset(_PARTS) - ({"courses"} if catalog is not None else set())
    if catalog is not None:
        for i, period in enumerate(periods):
            found["courses"][i] = [sum(entry.published_before(period.end) for entry in catalog.values())]
    for name, span, values in await store.rows(_sql(parts), index.params()):
        numbers = [int(v) for v in values]
        if name == "storage":
            for position in index.ending_at(int(span)):
                found["storage"][position] = numbers
        else:
            found[str(name)][int(span) - 1] = numbers
    users, people, courses, traffic, storage = (found[name] for name in _PARTS)
    out = []
    for i, period in enumerate(periods):
        active_users, logins, sessions_ended, session_seconds, video_views, active_courses = people[i]
        requests, errors, bytes_served, observed, up = traffic[i]
        out.append(
            SystemMetrics(
                tenant_id=period.tenant_id,
                period_start=period.first,
                period_end=period.last,
                total_users=users[i][0],
                active_users=active_users,
                total_courses=courses[i][0],
                active_courses=active_courses,
                total_sessions=logins,
                average_session_duration=measures.average_minutes(session_seconds, sessions_ended),
                total_video_views=video_views,
                total_storage_used=storage[i][0],
                bandwidth_used=bytes_served,
                system_uptime=measures.uptime(up, observed),
                error_rate=measures.error_rate(errors, requests),
            )
        )
    return out


async def system_metrics(
    store: QueryStore, period: LmsPeriod, catalog: Mapping[int, CourseEntry] | None = None
) -> SystemMetrics:
    """:func:`system_metrics_by_period` of one period."""
    return (await system_metrics_by_period(store, [period], catalog))[0]
