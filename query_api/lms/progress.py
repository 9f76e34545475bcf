"""``UserProgressAnalytics`` (the seed names the type only): where a student stands now in each course they
are enrolled in, from the current state (``lms_enrollments FINAL``: the newest version of each enrollment,
deleted ones left out), for the admin ``users/{userId}/progress``, the teacher ``courses/{courseId}/students``
and the student ``progress`` reads.

``average_progress`` is the mean progress of the enrollments not dropped (as ``CourseAnalytics`` averages
them), two decimals half up; a student without enrollments has none and zeros."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from query_api.lms.models import Percent, Person
from query_api.readers.common import utc
from query_api.store import QueryStore
from schemas import lms_measures as measures


@dataclass(frozen=True, slots=True)
class CourseProgress:
    course_id: int
    status: str
    """``active``, ``completed`` or ``dropped``"""
    progress_percentage: Percent
    enrolled_at: datetime
    completed_at: datetime | None
    dropped_at: datetime | None


@dataclass(frozen=True, slots=True)
class UserProgressAnalytics:
    student_id: int
    tenant_id: str
    enrolled_courses: int
    active_courses: int
    completed_courses: int
    dropped_courses: int
    average_progress: Percent
    courses: list[CourseProgress]
    """by course id"""


async def user_progress(
    store: QueryStore, tenant_id: str, student_ids: Sequence[int], course_id: int | None = None
) -> dict[int, UserProgressAnalytics]:
    """The current progress of each student of ``student_ids`` (every enrollment, or ``course_id``'s only)."""
    keys = sorted(Person(measures.STUDENT, student).key for student in set(student_ids))
    params: dict[str, Any] = {"tenant": tenant_id, "users": keys, "course": course_id or 0}
    only = " AND course_id = {course:UInt64}" if course_id is not None else ""
    rows = await store.rows(
        "SELECT student_id, course_id, status, progress_centi, enrolled_at, completed_at, dropped_at "
        "FROM lms_enrollments FINAL WHERE tenant_id = {tenant:String} AND user_id IN {users:Array(String)} "
        f"AND is_deleted = 0{only} ORDER BY student_id, course_id",
        params,
    )
    courses: dict[int, list[tuple[CourseProgress, int]]] = {
        student: [] for student in sorted(set(student_ids))
    }
    for student, course, status, centi, enrolled, completed, dropped in rows:
        item = CourseProgress(
            course_id=int(course),
            status=str(status),
            progress_percentage=measures.hundredths(int(centi)),
            enrolled_at=utc(enrolled),
            completed_at=None if completed is None else utc(completed),
            dropped_at=None if dropped is None else utc(dropped),
        )
        courses.setdefault(int(student), []).append((item, int(centi)))
    out = {}
    for student, items in courses.items():
        statuses = [c.status for c, _ in items]
        out[student] = UserProgressAnalytics(
            student_id=student,
            tenant_id=tenant_id,
            enrolled_courses=len(items),
            active_courses=statuses.count("active"),
            completed_courses=statuses.count("completed"),
            dropped_courses=statuses.count("dropped"),
            average_progress=measures.average_progress(centi for c, centi in items if c.status != "dropped"),
            courses=[c for c, _ in items],
        )
    return out


async def course_students(store: QueryStore, tenant_id: str, course_id: int) -> list[int]:
    """The students enrolled in ``course_id`` now (any status; deleted enrollments left out)."""
    rows = await store.rows(
        "SELECT DISTINCT student_id FROM lms_enrollments FINAL WHERE tenant_id = {tenant:String} "
        "AND course_id = {course:UInt64} AND is_deleted = 0 ORDER BY student_id",
        {"tenant": tenant_id, "course": course_id},
    )
    return [int(student) for (student,) in rows]
