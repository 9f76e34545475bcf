"""Engagement (the seed names ``CourseEngagementAnalytics`` and ``UserEngagementAnalytics`` without fields):
what each learner did in each course over a period, and a person's active days, for the admin
``courses/{courseId}/engagement`` and ``users/{userId}/engagement`` reads and the student ``engagement`` read.

Sources: ``rollup_lms_course_activity`` (per person and course) over the period's coarsest cover
(:mod:`query_api.lms.grains`) for the sums, its daily rows for active days and the last active day;
``rollup_lms_user_days`` daily rows for a person's events per day across courses. A learner's
``engagement_score`` in a course is their active days in it ÷ days in the period
(:func:`schemas.lms_measures.user_engagement`, the person-level formula restricted to the course).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from query_api.lms.courses import course_enrollments
from query_api.lms.grains import daily_condition, period_condition
from query_api.lms.models import Day, LmsPeriod, Percent, Person
from query_api.lms.state import period_params
from query_api.store import QueryStore
from schemas import lms_measures as measures
from schemas.rollups import rollup

COURSE_ACTIVITY = rollup("lms_course_activity")
USER_DAYS = rollup("lms_user_days")


@dataclass(frozen=True, slots=True)
class CourseEngagement:
    """One person's activity in one course over the period (zeros for a learner without any)."""

    user_id: int
    user_type: str
    course_id: int
    active_days: int
    engagement_score: Percent
    events: int
    views: int
    """content views and video watch sessions"""
    total_watch_time: int
    """minutes"""
    completions: int
    quiz_attempts: int
    quiz_submissions: int
    assignment_submissions: int
    last_active_date: date | None
    """the last local day of the period with an event of the course"""


def idle(person: Person, course_id: int) -> CourseEngagement:
    """A learner of ``course_id`` without activity in the period."""
    zero = measures.ZERO_PERCENT
    return CourseEngagement(person.user_id, person.user_type, course_id, 0, zero, 0, 0, 0, 0, 0, 0, 0, None)


@dataclass(frozen=True, slots=True)
class _Activity:
    """One person's sums in one course over the period, as read (seconds, not yet minutes)."""

    person: Person
    course_id: int
    events: int
    views: int
    watch_seconds: int
    completions: int
    quiz_attempts: int
    quiz_submissions: int
    assignment_submissions: int
    active_days: int
    last_active_date: date | None

    def engagement(self, period: LmsPeriod) -> CourseEngagement:
        return CourseEngagement(
            user_id=self.person.user_id,
            user_type=self.person.user_type,
            course_id=self.course_id,
            active_days=self.active_days,
            engagement_score=measures.user_engagement(self.active_days, period.days),
            events=self.events,
            views=self.views,
            total_watch_time=measures.minutes(self.watch_seconds),
            completions=self.completions,
            quiz_attempts=self.quiz_attempts,
            quiz_submissions=self.quiz_submissions,
            assignment_submissions=self.assignment_submissions,
            last_active_date=self.last_active_date,
        )


async def _activity(
    store: QueryStore,
    period: LmsPeriod,
    course_ids: Sequence[int] | None,
    people: Sequence[Person] | None,
) -> list[_Activity]:
    params: dict[str, Any] = period_params(period, course_ids or ())
    covered = period_condition(period.first, period.last, params)
    daily = daily_condition(period.first, period.last, params)
    where = ["tenant_id = {tenant:String}", f"({covered} OR {daily})"]
    if course_ids is not None:
        if not course_ids:
            return []
        where.append("course_id IN {courses:Array(UInt64)}")
    if people is not None:
        if not people:
            return []
        params["users"] = sorted({p.key for p in people})
        where.append("user_id IN {users:Array(String)}")
    rows = await store.rows(
        "SELECT course_id, user_type, user_id, sumIf(events, covered), sumIf(views, covered), "
        "sumIf(watch_seconds, covered), sumIf(completions, covered), sumIf(quiz_attempts, covered), "
        "sumIf(quiz_submissions, covered), sumIf(assignment_submissions, covered), "
        "uniqExactIf(bucket, day AND events > 0), maxIf(bucket, day AND events > 0) "
        f"FROM (SELECT *, {covered} AS covered, {daily} AS day FROM {COURSE_ACTIVITY.table} "
        f"WHERE {' AND '.join(where)}) GROUP BY course_id, user_type, user_id",
        params,
    )
    found = []
    for course, kind, key, events, views, seconds, done, quizzes, quiz_in, assignments_in, days, last in rows:
        if int(events) == 0:
            continue
        found.append(
            _Activity(
                Person(str(kind), int(str(key).rpartition(":")[2])),
                int(course),
                int(events),
                int(views),
                int(seconds),
                int(done),
                int(quizzes),
                int(quiz_in),
                int(assignments_in),
                int(days),
                last if int(days) else None,
            )
        )
    return found


async def course_engagement(
    store: QueryStore,
    period: LmsPeriod,
    *,
    course_ids: Sequence[int] | None = None,
    people: Sequence[Person] | None = None,
) -> list[CourseEngagement]:
    """Every (person, course) with an event in ``period``, of ``course_ids`` and ``people`` when given; by
    course, then user type and id."""
    found = [row.engagement(period) for row in await _activity(store, period, course_ids, people)]
    found.sort(key=lambda e: (e.course_id, e.user_type, e.user_id))
    return found


@dataclass(frozen=True, slots=True)
class DayEvents:
    date: Day
    events: int


async def events_per_day(
    store: QueryStore, period: LmsPeriod, person: Person, course_id: int | None = None
) -> list[DayEvents]:
    """The person's learning events on every local day of ``period`` (of ``course_id`` only, when given),
    days without any listed with 0, oldest first."""
    params: dict[str, Any] = {**period_params(period, [course_id or 0]), "user": person.key}
    daily = daily_condition(period.first, period.last, params)
    if course_id is None:
        sql = f"SELECT bucket, sum(events) FROM {USER_DAYS.table} WHERE tenant_id = {{tenant:String}} "
    else:
        sql = (
            f"SELECT bucket, sum(events) FROM {COURSE_ACTIVITY.table} WHERE tenant_id = {{tenant:String}} "
            "AND course_id IN {courses:Array(UInt64)} "
        )
    rows = await store.rows(sql + f"AND user_id = {{user:String}} AND {daily} GROUP BY bucket", params)
    counts = {day: int(events) for day, events in rows}
    return [
        DayEvents(day, counts.get(day, 0))
        for day in (period.first + timedelta(days=i) for i in range(period.days))
    ]


@dataclass(frozen=True, slots=True)
class UserEngagementAnalytics:
    """A person over the period: their active days and events per day (in ``course_id`` only, when given)
    and their activity per course."""

    user_id: int
    user_type: str
    tenant_id: str
    period_start: date
    period_end: date
    course_id: int | None
    active_days: int
    engagement_score: Percent
    """active days ÷ days in the period (``UserAnalytics.engagement_score`` without ``course_id``)"""
    events: int
    daily: list[DayEvents]
    courses: list[CourseEngagement]
    """each course with an event in the period (``course_id`` only, when given), by course id"""


async def user_engagement(
    store: QueryStore, period: LmsPeriod, person: Person, course_id: int | None = None
) -> UserEngagementAnalytics:
    daily, courses = await asyncio.gather(
        events_per_day(store, period, person, course_id),
        course_engagement(
            store, period, course_ids=None if course_id is None else [course_id], people=[person]
        ),
    )
    active = sum(1 for day in daily if day.events)
    return UserEngagementAnalytics(
        user_id=person.user_id,
        user_type=person.user_type,
        tenant_id=period.tenant_id,
        period_start=period.first,
        period_end=period.last,
        course_id=course_id,
        active_days=active,
        engagement_score=measures.user_engagement(active, period.days),
        events=sum(day.events for day in daily),
        daily=daily,
        courses=courses,
    )


@dataclass(frozen=True, slots=True)
class CourseEngagementAnalytics:
    """A course over the period: the figures of its ``CourseAnalytics`` that measure engagement, and each
    student's activity in it."""

    course_id: int
    tenant_id: str
    period_start: date
    period_end: date
    enrolled_students: int
    """enrolled and not dropped by the period's end"""
    active_students: int
    """students with an event of the course in the period"""
    engagement_score: Percent
    """as ``CourseAnalytics.engagement_score``"""
    total_views: int
    total_watch_time: int
    """minutes"""
    quiz_attempts: int
    assignment_submissions: int
    students: list[CourseEngagement]
    """every student enrolled (not dropped) by the period's end or active in it, by student id"""


async def course_engagement_analytics(
    store: QueryStore, period: LmsPeriod, course_id: int
) -> CourseEngagementAnalytics:
    """The course's figures are summed from its people's rows (the same cover and daily rows
    :func:`query_api.lms.courses.course_facts` reads), so only its enrollments are read beside them."""
    enrolled, rows = await asyncio.gather(
        course_enrollments(store, period, [course_id]),
        _activity(store, period, [course_id], None),
    )
    item = enrolled[course_id]
    students_rows = [row for row in rows if row.person.user_type == measures.STUDENT]
    item.active_days.update((row.person.key, row.active_days) for row in students_rows)
    active = {row.person: row.engagement(period) for row in students_rows}
    learners = {Person(measures.STUDENT, int(key.rpartition(":")[2])) for key in item.students}
    students = [
        active.get(person) or idle(person, course_id)
        for person in sorted(active.keys() | learners, key=lambda p: p.user_id)
    ]
    return CourseEngagementAnalytics(
        course_id=course_id,
        tenant_id=period.tenant_id,
        period_start=period.first,
        period_end=period.last,
        enrolled_students=len(item.students),
        active_students=len(active),
        engagement_score=item.engagement,
        total_views=sum(row.views for row in rows),
        total_watch_time=measures.minutes(sum(row.watch_seconds for row in rows)),
        quiz_attempts=sum(row.quiz_attempts for row in rows),
        assignment_submissions=sum(row.assignment_submissions for row in rows),
        students=students,
    )
