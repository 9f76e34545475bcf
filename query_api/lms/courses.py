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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from query_api.lms.grains import period_condition
from query_api.lms.models import CourseAnalytics, DailyCourseMetrics, LmsPeriod, WeeklyCourseMetrics
from query_api.lms.spans import (
    COVER_SPANS,
    DAY_SPANS,
    IN_RANGE,
    SPANS_WITH,
    UP_TO_SPANS,
    span_params,
    spanned,
)
from query_api.lms.state import course_catalog, first_handed_in_days, period_params
from query_api.store import QueryStore
from schemas import lms_measures as measures
from schemas.rollups import rollup

COURSE_ACTIVITY = rollup("lms_course_activity")
Model = TypeVar("Model")
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


_COMPLETED_BY_END = "ifNull(completed_at < ends[span], 0)"
_COMPLETED_IN = f"ifNull(completed_at >= starts[span], 0) AND {_COMPLETED_BY_END}"
_DROPPED_BY_END = "ifNull(dropped_at < ends[span], 0)"
_TOOK_MS = (
    "ifNull(greatest(0, toUnixTimestamp64Milli(completed_at) - toUnixTimestamp64Milli(enrolled_at)), 0)"
)


_NONE = "CAST([], 'Array(String)')"
_INTS = "arrayMap(x -> toInt64(x), [{}])"


def _part(name: str, user: str, values: str, learners: str = _NONE) -> str:
    """One part of the course-facts union: ``(part, span, course_id, user, [values], [learners])``."""
    numbers = _INTS.format(values)
    return f"{SPANS_WITH}SELECT '{name}' AS part, span, course_id, {user} AS user, {numbers}, {learners}"


_TENANT_COURSES = "tenant_id = {tenant:String} AND course_id IN {courses:Array(UInt64)}"
_FACTS_SQL = " UNION ALL ".join(
    [
        # enrollments made by each period's end (current state against the period's instants)
        _part(
            "enrollments",
            "''",
            f"count(), countIf(enrolled_at >= starts[span]), countIf({_COMPLETED_BY_END}), "
            f"countIf({_COMPLETED_IN}), sumIf({_TOOK_MS}, {_COMPLETED_IN}), countIf({_DROPPED_BY_END})",
            f"groupArrayIf(user_id, NOT {_DROPPED_BY_END})",
        )
        + " "
        + spanned(
            "lms_enrollments FINAL",
            f"{_TENANT_COURSES} AND is_deleted = 0 AND enrolled_at < {{spans_end:DateTime64(3, 'UTC')}}",
            "arrayFilter(i -> enrolled_at < ends[i], range(1, length(ends) + 1))",
        )
        + " GROUP BY span, course_id",
        # each enrollment's progress as of each period's end
        _part("progress", "user_id", "argMax(progress_centi, version)")
        + " "
        + spanned(
            ENROLLMENT_PROGRESS.table,
            f"{_TENANT_COURSES} AND grain = 'daily' AND bucket <= {{spans_last:Date}}",
            UP_TO_SPANS,
        )
        + " GROUP BY span, course_id, user_id",
        # activity sums and exact unique counts over each period's cover
        _part(
            "activity",
            "''",
            "sum(views), sum(watch_seconds), sum(completions), sum(quiz_attempts), "
            f"sum(assignment_submissions), uniqExactIf(user_id, {measures.ACTIVE_STUDENT_SQL}), "
            f"uniqExactIf(user_id, {measures.VIEWER_SQL})",
        )
        + " "
        + spanned(COURSE_ACTIVITY.table, f"{_TENANT_COURSES} AND {IN_RANGE}", COVER_SPANS)
        + " GROUP BY span, course_id",
        # each student's active days in each period
        _part("days", "user_id", "uniqExact(bucket)")
        + " "
        + spanned(
            COURSE_ACTIVITY.table,
            f"{_TENANT_COURSES} AND {measures.ACTIVE_STUDENT_SQL} AND grain = 'daily' AND {IN_RANGE}",
            DAY_SPANS,
        )
        + " GROUP BY span, course_id, user_id",
    ]
)


async def _facts(store: QueryStore, params: dict[str, Any], facts: list[dict[int, CourseFacts]]) -> None:
    """Enrollments, progress, activity and active days of every period, in one statement."""
    for part, span, course, user, values, learners in await store.rows(_FACTS_SQL, params):
        item = facts[int(span) - 1][int(course)]
        numbers = [int(v) for v in values]
        if part == "enrollments":
            made, new, completed, completed_now, took_ms, dropped = numbers
            item.enrollments, item.new_enrollments = made, new
            item.completed_by_end, item.completed_in_period = completed, completed_now
            item.completion_ms, item.dropped_by_end = took_ms, dropped
            item.students = {str(student) for student in learners}
        elif part == "progress":
            item.progress_centi[str(user)] = numbers[0]
        elif part == "activity":
            item.views, item.watch_seconds, item.completions = numbers[0], numbers[1], numbers[2]
            item.quiz_attempts, item.assignment_submissions = numbers[3], numbers[4]
            item.active_students, item.unique_viewers = numbers[5], numbers[6]
        else:
            item.active_days[str(user)] = numbers[0]


async def _assessments(
    store: QueryStore, periods: Sequence[LmsPeriod], ids: list[int], facts: list[dict[int, CourseFacts]]
) -> None:
    catalog = await course_catalog(store, periods[0].tenant_id, ids)
    wanted = sorted({a for entry in catalog.values() for a in entry.assessments})
    first_handed_in = await first_handed_in_days(store, periods[0].tenant_id, wanted)
    for period, by_course in zip(periods, facts, strict=True):
        handed_in = {pair for pair, day in first_handed_in.items() if day <= period.last}
        for course, entry in catalog.items():
            by_course[course].quizzes = frozenset(
                a for a, kind in entry.assessments.items() if kind == "quiz"
            )
            by_course[course].assignments = frozenset(
                a for a, kind in entry.assessments.items() if kind == "assignment"
            )
        for item in by_course.values():
            item.handed_in = handed_in


async def course_facts_by_period(
    store: QueryStore, periods: Sequence[LmsPeriod], course_ids: Sequence[int], *, rates: bool = True
) -> list[dict[int, CourseFacts]]:
    """The facts of every course in ``course_ids`` over each of ``periods`` (one tenant and zone), in a few
    statements whatever the number of periods (``rates``: also the course's assessments and the pairs
    handed in, which only ``CourseAnalytics`` needs)."""
    ids = sorted(set(course_ids))
    facts = [{course: CourseFacts(period.days) for course in ids} for period in periods]
    if not ids or not periods:
        return facts
    params = {**span_params(periods), "courses": ids}
    reads = [_facts(store, params, facts)]
    if rates:
        reads.append(_assessments(store, periods, ids, facts))
    await asyncio.gather(*reads)
    return facts


async def course_facts(
    store: QueryStore, period: LmsPeriod, course_ids: Sequence[int], *, rates: bool = True
) -> dict[int, CourseFacts]:
    """:func:`course_facts_by_period` of one period."""
    return (await course_facts_by_period(store, [period], course_ids, rates=rates))[0]


def _analytics(period: LmsPeriod, course: int, item: CourseFacts) -> CourseAnalytics:
    return CourseAnalytics(
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


async def _each_period(
    store: QueryStore,
    periods: Sequence[LmsPeriod],
    course_ids: Sequence[int],
    model: Callable[[LmsPeriod, int, CourseFacts], Model],
    rates: bool,
) -> list[dict[int, Model]]:
    """``model`` of every course in ``course_ids`` over each of ``periods``, from their course facts."""
    found = await course_facts_by_period(store, periods, course_ids, rates=rates)
    return [
        {course: model(period, course, item) for course, item in facts.items()}
        for period, facts in zip(periods, found, strict=True)
    ]


async def course_analytics_by_period(
    store: QueryStore, periods: Sequence[LmsPeriod], course_ids: Sequence[int]
) -> list[dict[int, CourseAnalytics]]:
    """``CourseAnalytics`` of every course in ``course_ids`` over each of ``periods``."""
    return await _each_period(store, periods, course_ids, _analytics, rates=True)


async def active_students(store: QueryStore, period: LmsPeriod, course_ids: Sequence[int]) -> dict[int, int]:
    """``CourseAnalytics.active_students`` alone, of every course in ``course_ids`` with any (a cheap
    ranking before the whole figures of a few)."""
    params = period_params(period, sorted(set(course_ids)))
    rows = await store.rows(
        f"SELECT course_id, uniqExactIf(user_id, {measures.ACTIVE_STUDENT_SQL}) FROM {COURSE_ACTIVITY.table} "
        "WHERE tenant_id = {tenant:String} AND course_id IN {courses:Array(UInt64)} "
        f"AND {period_condition(period.first, period.last, params)} GROUP BY course_id",
        params,
    )
    return {int(course): int(count) for course, count in rows if int(count)}


async def course_analytics(
    store: QueryStore, period: LmsPeriod, course_ids: Sequence[int]
) -> dict[int, CourseAnalytics]:
    """``CourseAnalytics`` of every course in ``course_ids`` over ``period`` (a course without any data has
    zeros)."""
    return (await course_analytics_by_period(store, [period], course_ids))[0]


def _daily(period: LmsPeriod, course: int, item: CourseFacts) -> DailyCourseMetrics:
    return DailyCourseMetrics(
        course_id=course,
        date=period.first,
        total_views=item.views,
        unique_viewers=item.unique_viewers,
        total_watch_time=measures.minutes(item.watch_seconds),
        completion_count=item.completions,
        quiz_attempts=item.quiz_attempts,
        assignment_submissions=item.assignment_submissions,
        average_engagement=item.engagement,
        tenant_id=period.tenant_id,
    )


async def daily_course_metrics_of_days(
    store: QueryStore, tenant_id: str, zone: ZoneInfo, days: Sequence[date], course_ids: Sequence[int]
) -> list[dict[int, DailyCourseMetrics]]:
    """``DailyCourseMetrics`` of every course in ``course_ids`` on each local day of ``days``."""
    periods = [LmsPeriod(tenant_id, zone, day, day) for day in days]
    return await _each_period(store, periods, course_ids, _daily, rates=False)


async def daily_course_metrics(
    store: QueryStore, tenant_id: str, zone: ZoneInfo, day: date, course_ids: Sequence[int]
) -> dict[int, DailyCourseMetrics]:
    """``DailyCourseMetrics`` of every course in ``course_ids`` on the local ``day``."""
    return (await daily_course_metrics_of_days(store, tenant_id, zone, [day], course_ids))[0]


def _weekly(period: LmsPeriod, course: int, item: CourseFacts) -> WeeklyCourseMetrics:
    return WeeklyCourseMetrics(
        course_id=course,
        week_start_date=period.first,
        week_end_date=period.last,
        total_enrollments=item.enrollments,
        new_enrollments=item.new_enrollments,
        completed_enrollments=item.completed_in_period,
        total_watch_time=measures.minutes(item.watch_seconds),
        average_progress=item.average_progress,
        engagement_score=item.engagement,
        tenant_id=period.tenant_id,
    )


async def weekly_course_metrics_of_weeks(
    store: QueryStore, tenant_id: str, zone: ZoneInfo, mondays: Sequence[date], course_ids: Sequence[int]
) -> list[dict[int, WeeklyCourseMetrics]]:
    """``WeeklyCourseMetrics`` of every course in ``course_ids`` for each ISO week starting on one of
    ``mondays`` (Monday to Sunday in the tenant's zone)."""
    for monday in mondays:
        if monday.weekday() != 0:
            raise ValueError(f"an ISO week starts on a Monday, not on {monday:%A} {monday}")
    periods = [LmsPeriod(tenant_id, zone, monday, monday + timedelta(days=6)) for monday in mondays]
    return await _each_period(store, periods, course_ids, _weekly, rates=False)


async def weekly_course_metrics(
    store: QueryStore, tenant_id: str, zone: ZoneInfo, week_start: date, course_ids: Sequence[int]
) -> dict[int, WeeklyCourseMetrics]:
    """``WeeklyCourseMetrics`` of every course in ``course_ids`` for the ISO week starting on the Monday
    ``week_start``."""
    return (await weekly_course_metrics_of_weeks(store, tenant_id, zone, [week_start], course_ids))[0]
