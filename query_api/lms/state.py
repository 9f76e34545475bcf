"""Reads shared by the LMS readers: statement parameters of a period, the course catalog from the
current state (``lms_courses FINAL``), and when each (student, assessment) pair was first handed in.

Entity attributes are joined here at read time, never stored in rollups (ADR 0015 §3): a course that
arrives after its activity changes the answers from then on, as intended. Soft-deleted entities
(``is_deleted = 1``, the newest state) are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from query_api.lms.models import LmsPeriod, Person
from query_api.readers.common import ch_time
from query_api.store import QueryStore
from schemas import lms_measures as measures
from schemas.lms_payloads import UserType
from schemas.rollups import rollup

READ_SETTINGS = {"optimize_move_to_prewhere": 0}
"""ClickHouse settings of the LMS reads: most read small rollup and current-state rows, where moving
filters to ``PREWHERE`` saves little reading and costs each statement more in planning (column statistics
loaded, the plan optimised again) than it saves (ADR 0022)."""
RAW_READ_SETTINGS = {"optimize_move_to_prewhere": 1}
"""The settings of the LMS reads of raw events (``lms_activity``, ``lms_telemetry``): wide rows of which a
filter keeps few, where ``PREWHERE`` reads the filter's columns first and pays for itself."""

ATTEMPTS = rollup("lms_attempts")
COURSE_ACTIVITY_TABLE = rollup("lms_course_activity").table


def period_params(period: LmsPeriod, courses: Sequence[int] = ()) -> dict[str, Any]:
    """``tenant``, the period's local days ``first``/``last``, its UTC instants ``start``/``end``
    (``end`` exclusive) and ``courses``."""
    return {
        "tenant": period.tenant_id,
        "first": period.first,
        "last": period.last,
        "start": ch_time(period.start),
        "end": ch_time(period.end),
        "courses": list(courses),
    }


@dataclass(frozen=True, slots=True)
class CourseEntry:
    """A course's current state as the readers need it."""

    course_id: int
    assessments: dict[int, str]
    """assessment id → ``quiz`` / ``assignment``, as the course lists them now"""
    institute_id: int = 0
    """0: none"""
    is_published: bool = False
    published_ms: int | None = None
    """when it was published, in milliseconds since the epoch (``None``: no time given)"""

    def published_before(self, end: datetime) -> bool:
        """Published now, and by ``end`` (a course published without a time counts as published always)."""
        return self.is_published and (self.published_ms is None or self.published_ms < end.timestamp() * 1000)


COURSE_ENTRY_COLUMNS = (
    "course_id, assessment_ids, CAST(assessment_types, 'Array(String)'), institute_id, is_published, "
    "toUnixTimestamp64Milli(published_at)"
)
"""The ``lms_courses`` columns of a :class:`CourseEntry`, in :func:`course_entry`'s order."""


def course_entry(
    course: int,
    assessments: Sequence[int],
    kinds: Sequence[str],
    institute: int,
    is_published: int,
    published_ms: int | None,
) -> CourseEntry:
    """A :class:`CourseEntry` from a row of :data:`COURSE_ENTRY_COLUMNS`."""
    listed = {int(a): str(kind) for a, kind in zip(assessments, kinds, strict=True)}
    published = None if published_ms is None else int(published_ms)
    return CourseEntry(int(course), listed, int(institute), bool(is_published), published)


async def course_catalog(
    store: QueryStore, tenant_id: str, course_ids: Sequence[int] | None = None
) -> dict[int, CourseEntry]:
    """The current state of the tenant's courses (``course_ids`` only, when given), deleted ones left out."""
    params: dict[str, Any] = {"tenant": tenant_id, "courses": list(course_ids or ())}
    only = " AND course_id IN {courses:Array(UInt64)}" if course_ids is not None else ""
    rows = await store.rows(
        f"SELECT {COURSE_ENTRY_COLUMNS} FROM lms_courses FINAL "
        "WHERE tenant_id = {tenant:String} AND is_deleted = 0" + only,
        params,
    )
    return {int(row[0]): course_entry(*row) for row in rows}


async def first_handed_in_days(
    store: QueryStore, tenant_id: str, assessment_ids: Sequence[int]
) -> dict[tuple[str, int], date]:
    """(student key, assessment id) → the first local day an attempt at it started whose newest snapshot is
    submitted or graded: the pair counts as handed in by the end of every period ending on or after that
    day."""
    if not assessment_ids:
        return {}
    rows = await store.rows(
        f"SELECT user_id, assessment_id, min(bucket) FROM {ATTEMPTS.table} FINAL "
        "WHERE tenant_id = {tenant:String} AND grain = 'daily' "
        "AND assessment_id IN {assessments:Array(UInt64)} AND state IN {states:Array(String)} "
        "GROUP BY user_id, assessment_id",
        {"tenant": tenant_id, "assessments": list(assessment_ids), "states": list(measures.SUBMITTED_STATES)},
    )
    return {(str(user), int(assessment)): day for user, assessment, day in rows}


async def user_types_of(store: QueryStore, tenant_id: str, user_id: int) -> list[str]:
    """The roles (``student``, ``teacher``, ``admin``) under which the tenant knows LMS user ``user_id``: a
    version in the catalog, or activity (which may arrive before the person's document)."""
    keys = [Person(kind.value, user_id).key for kind in UserType]
    rows = await store.tuned(RAW_READ_SETTINGS).rows(
        "SELECT DISTINCT user_type FROM (SELECT user_type FROM lms_users WHERE tenant_id = {tenant:String} "
        "AND user_id IN {keys:Array(String)} UNION ALL SELECT user_type FROM lms_activity "
        "WHERE tenant_id = {tenant:String} AND user_id IN {keys:Array(String)}) ORDER BY user_type",
        {"tenant": tenant_id, "keys": keys},
    )
    return [str(kind) for (kind,) in rows]
