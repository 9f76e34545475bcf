"""``CourseAnalytics``, ``DailyCourseMetrics`` and ``WeeklyCourseMetrics``: one set of course facts per
period, read in a few statements for every requested course at once.

Sources (ADR 0015 §5): enrollments from the current state (``lms_enrollments FINAL``, soft-deleted ones
left out) compared with the period's instants; progress as of the period's end from
``rollup_lms_enrollment_progress`` (each enrollment's newest version recorded on or before the last day);
activity sums and exact unique counts from ``rollup_lms_course_activity`` over the period's coarsest cover
(:mod:`query_api.lms.grains`), active days from its daily rows; the course's quizzes and assignments from
``lms_courses FINAL``; handed-in (student, assessment) pairs from ``rollup_lms_attempts FINAL``. The
formulas are :mod:`schemas.lms_measures`'.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from query_api.lms.grains import daily_condition, period_condition
from query_api.lms.models import CourseAnalytics, DailyCourseMetrics, LmsPeriod, WeeklyCourseMetrics
from query_api.lms.state import course_catalog, period_params, submitted_pairs
from query_api.store import QueryStore
from schemas import lms_measures as measures
from schemas.rollups import rollup

COURSE_ACTIVITY = rollup("lms_course_activity")
ENROLLMENT_PROGRESS = rollup("lms_enrollment_progress")


@dataclass
class CourseFacts:
    """What a period's course figures are computed from (before any division or rounding)."""

    days: int
    """in the period"""
    enrollments: int = 0
    """made by the end of the period, any status"""
    new_enrollments: int = 0
    completed_by_end: int = 0
    completed_in_period: int = 0
    completion_ms: int = 0
    """Σ (completed − enrolled) in milliseconds over the enrollments completed in the period"""
    dropped_by_end: int = 0
    students: set[str] = field(default_factory=set)
    """enrolled and not dropped by the end of the period (subject keys)"""
    progress_centi: dict[str, int] = field(default_factory=dict)
    """as of the end, per student with a version recorded by then"""
    active_days: dict[str, int] = field(default_factory=dict)
    """per student: days of the period with an event of the course"""
    views: int = 0
    watch_seconds: int = 0
    completions: int = 0
    quiz_attempts: int = 0
    assignment_submissions: int = 0
    active_students: int = 0
    unique_viewers: int = 0
    quizzes: frozenset[int] = frozenset()
    assignments: frozenset[int] = frozenset()
    handed_in: set[tuple[str, int]] = field(default_factory=set)
    """(student, assessment) with an attempt started by the end whose newest snapshot is handed in"""

    @property
    def average_progress(self) -> Decimal:
        return measures.average_progress(self.progress_centi.get(s, 0) for s in self.students)

    @property
    def engagement(self) -> Decimal:
        active = sum(days for student, days in self.active_days.items() if student in self.students)
        return measures.course_engagement(active, len(self.students), self.days)

    def rate(self, assessments: frozenset[int]) -> Decimal:
        """Quiz completion or assignment submission rate over ``assessments`` (the course's own)."""
        pairs = sum(1 for student, item in self.handed_in if student in self.students and item in assessments)
        return measures.submission_rate(pairs, len(self.students), len(assessments))


async def _enrollments(
    store: QueryStore, period: LmsPeriod, ids: list[int], facts: dict[int, CourseFacts]
) -> None:
    params = period_params(period, ids)
    rows = await store.rows(
        "SELECT course_id, user_id, enrolled_at >= {start:DateTime64(3, 'UTC')}, "
        "ifNull(completed_at < {end:DateTime64(3, 'UTC')}, 0), "
        "ifNull(completed_at >= {start:DateTime64(3, 'UTC')} "
        "AND completed_at < {end:DateTime64(3, 'UTC')}, 0), "
        "ifNull(dropped_at < {end:DateTime64(3, 'UTC')}, 0), "
        "ifNull(greatest(0, toUnixTimestamp64Milli(completed_at) - toUnixTimestamp64Milli(enrolled_at)), 0) "
        "FROM lms_enrollments FINAL WHERE tenant_id = {tenant:String} "
        "AND course_id IN {courses:Array(UInt64)} "
        "AND is_deleted = 0 AND enrolled_at < {end:DateTime64(3, 'UTC')}",
        params,
    )
    for course, student, new, completed, completed_now, dropped, took_ms in rows:
        item = facts[int(course)]
        item.enrollments += 1
        item.new_enrollments += int(new)
        item.completed_by_end += int(completed)
        if completed_now:
            item.completed_in_period += 1
            item.completion_ms += int(took_ms)
        if dropped:
            item.dropped_by_end += 1
        else:
            item.students.add(str(student))


async def _progress(
    store: QueryStore, period: LmsPeriod, ids: list[int], facts: dict[int, CourseFacts]
) -> None:
    params = period_params(period, ids)
    rows = await store.rows(
        f"SELECT course_id, user_id, argMax(progress_centi, version) FROM {ENROLLMENT_PROGRESS.table} "
        "WHERE tenant_id = {tenant:String} AND grain = 'daily' AND bucket <= {last:Date} "
        "AND course_id IN {courses:Array(UInt64)} GROUP BY course_id, user_id",
        params,
    )
    for course, student, progress in rows:
        facts[int(course)].progress_centi[str(student)] = int(progress)


async def _activity(
    store: QueryStore, period: LmsPeriod, ids: list[int], facts: dict[int, CourseFacts]
) -> None:
    params = period_params(period, ids)
    rows = await store.rows(
        "SELECT course_id, sum(views), sum(watch_seconds), sum(completions), sum(quiz_attempts), "
        f"sum(assignment_submissions), uniqExactIf(user_id, {measures.ACTIVE_STUDENT_SQL}), "
        f"uniqExactIf(user_id, {measures.VIEWER_SQL}) FROM {COURSE_ACTIVITY.table} "
        "WHERE tenant_id = {tenant:String} AND course_id IN {courses:Array(UInt64)} "
        f"AND {period_condition(period.first, period.last, params)} GROUP BY course_id",
        params,
    )
    for course, views, seconds, completions, quizzes, assignments, active, viewers in rows:
        item = facts[int(course)]
        item.views, item.watch_seconds, item.completions = int(views), int(seconds), int(completions)
        item.quiz_attempts, item.assignment_submissions = int(quizzes), int(assignments)
        item.active_students, item.unique_viewers = int(active), int(viewers)


async def _active_days(
    store: QueryStore, period: LmsPeriod, ids: list[int], facts: dict[int, CourseFacts]
) -> None:
    params = period_params(period, ids)
    rows = await store.rows(
        f"SELECT course_id, user_id, uniqExact(bucket) FROM {COURSE_ACTIVITY.table} "
        "WHERE tenant_id = {tenant:String} AND course_id IN {courses:Array(UInt64)} "
        f"AND {measures.ACTIVE_STUDENT_SQL} AND {daily_condition(period.first, period.last, params)} "
        "GROUP BY course_id, user_id",
        params,
    )
    for course, student, days in rows:
        facts[int(course)].active_days[str(student)] = int(days)


async def _assessments(
    store: QueryStore, period: LmsPeriod, ids: list[int], facts: dict[int, CourseFacts]
) -> None:
    catalog = await course_catalog(store, period.tenant_id, ids)
    for course, entry in catalog.items():
        facts[course].quizzes = frozenset(a for a, kind in entry.assessments.items() if kind == "quiz")
        facts[course].assignments = frozenset(
            a for a, kind in entry.assessments.items() if kind == "assignment"
        )
    wanted = sorted({a for entry in catalog.values() for a in entry.assessments})
    handed_in = await submitted_pairs(store, period, wanted)
    for item in facts.values():
        item.handed_in = handed_in


async def course_facts(
    store: QueryStore, period: LmsPeriod, course_ids: Sequence[int], *, rates: bool = True
) -> dict[int, CourseFacts]:
    """The facts of every course in ``course_ids`` over ``period`` (``rates``: also the course's assessments
    and the pairs handed in, which only ``CourseAnalytics`` needs)."""
    ids = sorted(set(course_ids))
    facts = {course: CourseFacts(period.days) for course in ids}
    if not ids:
        return facts
    reads = [
        _enrollments(store, period, ids, facts),
        _progress(store, period, ids, facts),
        _activity(store, period, ids, facts),
        _active_days(store, period, ids, facts),
    ]
    if rates:
        reads.append(_assessments(store, period, ids, facts))
    await asyncio.gather(*reads)
    return facts


async def course_analytics(
    store: QueryStore, period: LmsPeriod, course_ids: Sequence[int]
) -> dict[int, CourseAnalytics]:
    """``CourseAnalytics`` of every course in ``course_ids`` over ``period`` (a course without any data has
    zeros)."""
    facts = await course_facts(store, period, course_ids)
    return {
        course: CourseAnalytics(
            course_id=course,
            tenant_id=period.tenant_id,
            period_start=period.first,
            period_end=period.last,
            total_enrollments=item.enrollments,
            active_students=item.active_students,
            completion_rate=measures.completion_rate(item.completed_by_end, item.enrollments),
            average_progress=item.average_progress,
            total_watch_time=measures.minutes(item.watch_seconds),
            quiz_completion_rate=item.rate(item.quizzes),
            assignment_submission_rate=item.rate(item.assignments),
            engagement_score=item.engagement,
        )
        for course, item in facts.items()
    }


async def daily_course_metrics(
    store: QueryStore, tenant_id: str, zone: ZoneInfo, day: date, course_ids: Sequence[int]
) -> dict[int, DailyCourseMetrics]:
    """``DailyCourseMetrics`` of every course in ``course_ids`` on the local ``day``."""
    period = LmsPeriod(tenant_id, zone, day, day)
    facts = await course_facts(store, period, course_ids, rates=False)
    return {
        course: DailyCourseMetrics(
            course_id=course,
            date=day,
            total_views=item.views,
            unique_viewers=item.unique_viewers,
            total_watch_time=measures.minutes(item.watch_seconds),
            completion_count=item.completions,
            quiz_attempts=item.quiz_attempts,
            assignment_submissions=item.assignment_submissions,
            average_engagement=item.engagement,
            tenant_id=tenant_id,
        )
        for course, item in facts.items()
    }


async def weekly_course_metrics(
    store: QueryStore, tenant_id: str, zone: ZoneInfo, week_start: date, course_ids: Sequence[int]
) -> dict[int, WeeklyCourseMetrics]:
    """``WeeklyCourseMetrics`` of every course in ``course_ids`` for the ISO week starting on the Monday
    ``week_start`` (Monday to Sunday in the tenant's zone)."""
    if week_start.weekday() != 0:
        raise ValueError(f"an ISO week starts on a Monday, not on {week_start:%A} {week_start}")
    period = LmsPeriod(tenant_id, zone, week_start, week_start + timedelta(days=6))
    facts = await course_facts(store, period, course_ids, rates=False)
    return {
        course: WeeklyCourseMetrics(
            course_id=course,
            week_start_date=period.first,
            week_end_date=period.last,
            total_enrollments=item.enrollments,
            new_enrollments=item.new_enrollments,
            completed_enrollments=item.completed_in_period,
            total_watch_time=measures.minutes(item.watch_seconds),
            average_progress=item.average_progress,
            engagement_score=item.engagement,
            tenant_id=tenant_id,
        )
        for course, item in facts.items()
    }
