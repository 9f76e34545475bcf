"""``CourseAnalytics``, ``DailyCourseMetrics`` and ``WeeklyCourseMetrics``: one set of course facts per
period, read in one statement for every requested course and period at once.

Sources (ADR 0015 §5): enrollments from the current state (``lms_enrollments FINAL``, soft-deleted ones
left out) compared with the period's instants; progress as of the period's end from
``rollup_lms_enrollment_progress`` (each enrollment's newest version recorded on or before the last day);
activity sums and exact unique counts from ``rollup_lms_course_activity`` over the period's coarsest cover
(:mod:`query_api.lms.grains`), active days from its daily rows; the course's quizzes and assignments from
its current catalog entry (the caller's snapshot, else ``lms_courses FINAL``); handed-in (student,
assessment) pairs from ``rollup_lms_attempts FINAL``. The formulas are :mod:`schemas.lms_measures`'.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import TypeVar
from zoneinfo import ZoneInfo

from query_api.lms.grains import period_condition
from query_api.lms.models import CourseAnalytics, DailyCourseMetrics, LmsPeriod, WeeklyCourseMetrics
from query_api.lms.spans import PeriodIndex, day_number
from query_api.lms.state import ATTEMPTS, CourseEntry, course_catalog, period_params
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
    any_activity: bool = False
    """an event of the course in the period (anyone's)"""
    views: int = 0
    watch_seconds: int = 0
    completions: int = 0
    quiz_attempts: int = 0
    assignment_submissions: int = 0
    active_students: int = 0
    unique_viewers: int = 0
    quizzes: frozenset[int] = frozenset()
    assignments: frozenset[int] = frozenset()
    handed_in: dict[int, set[str]] = field(default_factory=dict)
    """assessment → students with an attempt at it started by the end whose newest snapshot is handed in"""

    @property
    def average_progress(self) -> Decimal:
        return measures.average_progress(self.progress_centi.get(s, 0) for s in self.students)

    @property
    def engagement(self) -> Decimal:
        active = sum(days for student, days in self.active_days.items() if student in self.students)
        return measures.course_engagement(active, len(self.students), self.days)

    def rate(self, assessments: frozenset[int]) -> Decimal:
        """Quiz completion or assignment submission rate over ``assessments`` (the course's own)."""
        pairs = sum(len(self.handed_in.get(item, set()) & self.students) for item in assessments)
        return measures.submission_rate(pairs, len(self.students), len(assessments))


ByCourse = dict[int, CourseFacts]
"""One period's facts per course."""

_TENANT_COURSES = "tenant_id = {tenant:String} AND course_id IN {courses:Array(UInt64)}"
_MS = "toUnixTimestamp64Milli"


class Part(StrEnum):
    """The parts of the course facts statement: a reader asks for those its figures use."""

    ENROLLMENTS = "enrollments"
    """enrollments … students (every reader: the learners are the enrolled, not dropped)"""
    PROGRESS = "progress"
    """each student's progress as of the end"""
    ACTIVITY = "activity"
    """activity sums, unique counts and each student's active days"""
    RATES = "handed_in"
    """the pairs handed in (with the catalog's assessments: quiz and assignment rates)"""


ALL_PARTS = frozenset(Part)

_PARTS = {
    # enrollments made by the last period's end: the current state, compared with each period's instants here
    # (milliseconds; -1 for none: stored times are from 1971 on, schemas.event_time)
    Part.ENROLLMENTS: (
        f"SELECT 'enrollments', toUInt32(0), course_id, user_id, [{_MS}(enrolled_at), "
        f"ifNull({_MS}(completed_at), -1), ifNull({_MS}(dropped_at), -1)] FROM lms_enrollments FINAL "
        f"WHERE {_TENANT_COURSES} AND is_deleted = 0 AND enrolled_at < {{spans_end:DateTime64(3, 'UTC')}}"
    ),
    # each enrollment's progress as of each distinct last day (its newest version recorded by then)
    Part.PROGRESS: (
        "SELECT 'progress', up_to, course_id, user_id, [toInt64(argMax(progress_centi, version))] "
        f"FROM (SELECT course_id, user_id, bucket, version, progress_centi FROM {ENROLLMENT_PROGRESS.table} "
        f"WHERE {_TENANT_COURSES} AND grain = 'daily' AND bucket <= {{spans_last:Date}}) "
        f"ARRAY JOIN {PeriodIndex.UP_TO_JOIN} AS up_to GROUP BY up_to, course_id, user_id"
    ),
    # activity sums and exact unique counts over each period's cover (span), and each student's active days
    # in each period (span - DAYS), in one scan
    Part.ACTIVITY: (
        f"SELECT if(span > {PeriodIndex.DAYS}, 'days', 'activity'), span % {PeriodIndex.DAYS}, course_id, "
        f"if(span > {PeriodIndex.DAYS}, user_id, ''), [toInt64(sum(views)), toInt64(sum(watch_seconds)), "
        "toInt64(sum(completions)), toInt64(sum(quiz_attempts)), toInt64(sum(assignment_submissions)), "
        f"toInt64(uniqExactIf(user_id, {measures.ACTIVE_STUDENT_SQL})), "
        f"toInt64(uniqExactIf(user_id, {measures.VIEWER_SQL})), toInt64(uniqExact(bucket))] "
        "FROM (SELECT grain, bucket, user_id, user_type, course_id, views, watch_seconds, completions, "
        f"quiz_attempts, assignment_submissions FROM {COURSE_ACTIVITY.table} WHERE {_TENANT_COURSES} "
        f"AND {PeriodIndex.COVER_ROWS}) "
        f"ARRAY JOIN {PeriodIndex.cover_and_days_join(measures.ACTIVE_STUDENT_SQL)} AS span "
        f"GROUP BY span, course_id, if(span > {PeriodIndex.DAYS}, user_id, '')"
    ),
    # (student, assessment) → the first day an attempt whose newest snapshot is handed in started, for the
    # courses' assessments (bound: the caller's catalog)
    Part.RATES: (
        "SELECT 'handed_in', toUInt32(0), toUInt64(0), user_id, [toInt64(assessment_id), "
        f"toInt64(toUInt32(min(bucket)))] FROM {ATTEMPTS.table} FINAL "
        "WHERE tenant_id = {tenant:String} AND grain = 'daily' "
        "AND assessment_id IN {assessments:Array(UInt64)} "
        "AND state IN {states:Array(String)} GROUP BY user_id, assessment_id"
    ),
}


@cache
def _facts_sql(parts: frozenset[Part]) -> str:
    """The statement of ``parts``, in one union; periods assigned by lookups (:class:`PeriodIndex`), not
    lambdas (ADR 0022). Each part costs the statement its planning whatever its rows, so a reader asks for
    the parts it uses only."""
    return " UNION ALL ".join(sql for part, sql in _PARTS.items() if part in parts)


_COVER = "<cover>"
"""Where the one-period parts take the period's cover condition."""
_ONE_PERIOD_PARTS = {
    # each enrollment's newest progress version recorded by the last day
    Part.PROGRESS: (
        "SELECT 'progress', toUInt32(1), course_id, user_id, [toInt64(argMax(progress_centi, version))] "
        f"FROM {ENROLLMENT_PROGRESS.table} WHERE {_TENANT_COURSES} AND grain = 'daily' "
        "AND bucket <= {spans_last:Date} GROUP BY course_id, user_id"
    ),
    # per course and person: the sums over the period's cover (rows of the cover: c), how many of their rows
    # the cover holds, their active days (daily rows of the period) and whether they are a student
    Part.ACTIVITY: (
        "SELECT 'person', toUInt32(1), course_id, user_id, [toInt64(sumIf(views, c)), "
        "toInt64(sumIf(watch_seconds, c)), toInt64(sumIf(completions, c)), toInt64(sumIf(quiz_attempts, c)), "
        "toInt64(sumIf(assignment_submissions, c)), toInt64(countIf(c)), "
        f"toInt64(uniqExactIf(bucket, grain = 'daily')), toInt64({measures.ACTIVE_STUDENT_SQL})] "
        "FROM (SELECT course_id, user_id, user_type, grain, bucket, views, watch_seconds, completions, "
        f"quiz_attempts, assignment_submissions, {_COVER} AS c FROM {COURSE_ACTIVITY.table} "
        f"WHERE {_TENANT_COURSES} AND ((grain = 'daily' AND bucket >= {{spans_first:Date}} "
        f"AND bucket <= {{spans_last:Date}}) OR {_COVER})) GROUP BY course_id, user_id, user_type"
    ),
}


@cache
def _one_period_sql(parts: frozenset[Part], cover: str) -> str:
    """The statement of ``parts`` for one period: the rows of ``cover`` (the period's coarsest cover, SQL of
    :func:`query_api.lms.grains.period_condition`) and of its days read as they are, without the period
    lookups of :class:`PeriodIndex`, which the engine spends longer analysing than these plain conditions
    (ADR 0022, fifth pass). Activity comes per course and person, summed by the reader."""
    sql = {**_PARTS, **{part: text.replace(_COVER, cover) for part, text in _ONE_PERIOD_PARTS.items()}}
    return " UNION ALL ".join(text for part, text in sql.items() if part in parts)


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class _FactsReader:
    """Puts the rows of the facts statement where they belong."""

    def __init__(self, index: PeriodIndex, facts: list[ByCourse]) -> None:
        self.index = index
        self.facts = facts
        self.bounds = [(_epoch_ms(period.start), _epoch_ms(period.end)) for period in index.periods]
        self.first_handed_in: dict[int, dict[str, int]] = {}
        """assessment → student → day number"""

    def add(self, part: str, span: int, course: int, user: str, values: list[int]) -> None:
        if part == "enrollments":
            self._enrollment(course, user, *values)
        elif part == "progress":
            for position in self.index.ending_at(span):
                self.facts[position][course].progress_centi[user] = values[0]
        elif part == "activity":
            item = self.facts[span - 1][course]
            item.any_activity = True
            item.views, item.watch_seconds, item.completions = values[0], values[1], values[2]
            item.quiz_attempts, item.assignment_submissions = values[3], values[4]
            item.active_students, item.unique_viewers = values[5], values[6]
        elif part == "days":
            self.facts[span - 1][course].active_days[user] = values[7]
        elif part == "person":
            self._person(self.facts[span - 1][course], user, *values)
        else:
            self.first_handed_in.setdefault(values[0], {})[user] = values[1]

    @staticmethod
    def _person(
        item: CourseFacts,
        user: str,
        views: int,
        watch_seconds: int,
        completions: int,
        quiz_attempts: int,
        submissions: int,
        cover_rows: int,
        days: int,
        student: int,
    ) -> None:
        """One person's activity in a course over one period (:data:`_ONE_PERIOD_PARTS`): the course's sums
        and unique counts are theirs added up, as the cover's rows give them."""
        if cover_rows:
            item.any_activity = True
            item.views += views
            item.watch_seconds += watch_seconds
            item.completions += completions
            item.quiz_attempts += quiz_attempts
            item.assignment_submissions += submissions
            item.active_students += student
            item.unique_viewers += views > 0
        if student and days:
            item.active_days[user] = days

    def _enrollment(self, course: int, user: str, enrolled: int, completed: int, dropped: int) -> None:
        took_ms = max(0, completed - enrolled) if completed >= 0 else 0
        for (start, end), by_course in zip(self.bounds, self.facts, strict=True):
            if enrolled >= end:
                continue
            item = by_course[course]
            item.enrollments += 1
            item.new_enrollments += enrolled >= start
            if 0 <= completed < end:
                item.completed_by_end += 1
                if completed >= start:
                    item.completed_in_period += 1
                    item.completion_ms += took_ms
            if 0 <= dropped < end:
                item.dropped_by_end += 1
            else:
                item.students.add(user)

    def rates(self, catalog: Mapping[int, CourseEntry]) -> None:
        """The courses' quizzes and assignments (``catalog``: their entries now), and who handed each in by
        each period's end."""
        for period, by_course in zip(self.index.periods, self.facts, strict=True):
            last = day_number(period.last)
            handed_in = {
                assessment: {student for student, day in students.items() if day <= last}
                for assessment, students in self.first_handed_in.items()
            }
            for course, item in by_course.items():
                entry = catalog.get(course)
                listed = entry.assessments if entry else {}
                item.quizzes = frozenset(a for a, kind in listed.items() if kind == "quiz")
                item.assignments = frozenset(a for a, kind in listed.items() if kind == "assignment")
                item.handed_in = handed_in


async def course_facts_by_period(
    store: QueryStore,
    periods: Sequence[LmsPeriod],
    course_ids: Sequence[int],
    parts: Collection[Part] = ALL_PARTS,
    catalog: Mapping[int, CourseEntry] | None = None,
) -> list[dict[int, CourseFacts]]:
    """The facts of every course in ``course_ids`` over each of ``periods`` (one tenant and zone) that
    ``parts`` hold (the others stay empty), in one statement whatever the number of periods. With
    :attr:`Part.RATES`, the quizzes and assignments are ``catalog``'s (the courses' current entries; else
    read first)."""
    ids = sorted(set(course_ids))
    facts = [{course: CourseFacts(period.days) for course in ids} for period in periods]
    wanted = frozenset(parts) | {Part.ENROLLMENTS}
    if not ids or not periods:
        return facts
    if Part.RATES in wanted and catalog is None:
        catalog = await course_catalog(store, periods[0].tenant_id, ids)
    index = PeriodIndex(periods)
    reader = _FactsReader(index, facts)
    listed = catalog or {}
    params = {
        **index.params(),
        "courses": ids,
        "assessments": sorted({a for c in ids if c in listed for a in listed[c].assessments}),
        "states": list(measures.SUBMITTED_STATES),
    }
    if len(periods) == 1:  # most reads: plain conditions instead of the period lookups
        cover = period_condition(periods[0].first, periods[0].last, params)
        sql = _one_period_sql(wanted, cover)
    else:
        sql = _facts_sql(wanted)
    # thousands of rows per request: the column types (String, UInt32, UInt64, String, Array(Int64)) already
    # come as str, int and a list of int
    for part, span, course, user, values in await store.rows(sql, params):
        reader.add(part, span, course, user, values)
    if Part.RATES in wanted:
        reader.rates(listed)
    return facts


async def course_facts(
    store: QueryStore,
    period: LmsPeriod,
    course_ids: Sequence[int],
    parts: Collection[Part] = ALL_PARTS,
    catalog: Mapping[int, CourseEntry] | None = None,
) -> dict[int, CourseFacts]:
    """:func:`course_facts_by_period` of one period."""
    return (await course_facts_by_period(store, [period], course_ids, parts, catalog))[0]


async def course_enrollments(
    store: QueryStore, period: LmsPeriod, course_ids: Sequence[int]
) -> dict[int, CourseFacts]:
    """Only the enrollment figures of :func:`course_facts` (``enrollments`` … ``students``): for readers that
    count the activity themselves."""
    return await course_facts(store, period, course_ids, {Part.ENROLLMENTS})


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
    parts: Collection[Part],
    catalog: Mapping[int, CourseEntry] | None = None,
) -> list[dict[int, Model]]:
    """``model`` of every course in ``course_ids`` over each of ``periods``, from the ``parts`` of their
    course facts it uses."""
    found = await course_facts_by_period(store, periods, course_ids, parts, catalog)
    return [
        {course: model(period, course, item) for course, item in facts.items()}
        for period, facts in zip(periods, found, strict=True)
    ]


async def course_analytics_by_period(
    store: QueryStore,
    periods: Sequence[LmsPeriod],
    course_ids: Sequence[int],
    catalog: Mapping[int, CourseEntry] | None = None,
) -> list[dict[int, CourseAnalytics]]:
    """``CourseAnalytics`` of every course in ``course_ids`` over each of ``periods`` (``catalog``: the
    courses' current entries, when the caller holds them; else read)."""
    return await _each_period(store, periods, course_ids, _analytics, ALL_PARTS, catalog)


async def active_students(
    store: QueryStore, period: LmsPeriod, course_ids: Sequence[int] | None = None
) -> dict[int, int]:
    """``CourseAnalytics.active_students`` alone, of every course in ``course_ids`` (``None``: any course of
    the tenant) with any (a cheap ranking before the whole figures of a few)."""
    params = period_params(period, sorted(set(course_ids or ())))
    only = " AND course_id IN {courses:Array(UInt64)}" if course_ids is not None else ""
    rows = await store.rows(
        f"SELECT course_id, uniqExactIf(user_id, {measures.ACTIVE_STUDENT_SQL}) FROM {COURSE_ACTIVITY.table} "
        f"WHERE tenant_id = {{tenant:String}}{only} "
        f"AND {period_condition(period.first, period.last, params)} GROUP BY course_id",
        params,
    )
    return {int(course): int(count) for course, count in rows if int(count)}


async def course_analytics(
    store: QueryStore,
    period: LmsPeriod,
    course_ids: Sequence[int],
    catalog: Mapping[int, CourseEntry] | None = None,
) -> dict[int, CourseAnalytics]:
    """``CourseAnalytics`` of every course in ``course_ids`` over ``period`` (a course without any data has
    zeros; ``catalog`` as in :func:`course_analytics_by_period`)."""
    return (await course_analytics_by_period(store, [period], course_ids, catalog))[0]


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
    return await _each_period(store, periods, course_ids, _daily, {Part.ACTIVITY})


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
    return await _each_period(store, periods, course_ids, _weekly, {Part.PROGRESS, Part.ACTIVITY})


async def weekly_course_metrics(
    store: QueryStore, tenant_id: str, zone: ZoneInfo, week_start: date, course_ids: Sequence[int]
) -> dict[int, WeeklyCourseMetrics]:
    """``WeeklyCourseMetrics`` of every course in ``course_ids`` for the ISO week starting on the Monday
    ``week_start``."""
    return (await weekly_course_metrics_of_weeks(store, tenant_id, zone, [week_start], course_ids))[0]
