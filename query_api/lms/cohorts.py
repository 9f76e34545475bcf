"""Cohorts and retention of the learning platform (the admin ``users/cohort`` and ``users/retention`` reads;
the seed answers them with ``UserAnalytics[]``, which cannot hold a cohort table), from the daily rows of the
activity rollups: a person is *active* on a local day when ``rollup_lms_user_days`` has their daily row (any
learning event that day), a student is active *in a course* when ``rollup_lms_course_activity`` has the
daily row of that student and course.

- **Cohorts**: the people who signed up (``lms_users``, current state) — or the enrollments made
  (``lms_enrollments``, current state) — in each week (ISO, from Monday) or month of the period; for each
  offset 0, 1, … (the cohort's unit after unit, up to :data:`MAX_OFFSETS` and not past today) how many
  members were active in that window and which share of the cohort that is.
- **Retention**: per point of the period (weeks or months, clipped to it), the people active, those whose
  first activity ever falls in it (new), the others (returning), those also active in the point before
  (retained; before the first point: the window of the same length just before it), and the retention rate
  = retained ÷ active in the point before. Segmented by user type or institute (the person's current
  document; ``institute:0`` without one), or not at all.

All days are local days of the tenant's zone; deleted people and enrollments (newest state) are left out of
cohorts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from query_api.lms.models import LmsPeriod, Percent
from query_api.lms.spans import day_number
from query_api.readers.common import ch_time, utc
from query_api.store import QueryStore
from schemas import lms_measures as measures
from schemas.rollups import rollup

USER_DAYS = rollup("lms_user_days")
COURSE_ACTIVITY = rollup("lms_course_activity")
MAX_OFFSETS = 12
"""Most offsets of a cohort (12 weeks or 12 months after it starts)."""


def unit_start(day: date, monthly: bool) -> date:
    return day.replace(day=1) if monthly else day - timedelta(days=day.weekday())


def next_unit(day: date, monthly: bool) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1) if monthly else day + timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Cohort:
    cohort_start: date
    cohort_end: date
    size: int
    active: list[int]
    """members active in offset 0, 1, …"""
    retention: list[Percent]
    """``active`` as a share of ``size``, in percent"""


@dataclass(frozen=True, slots=True)
class CohortAnalysis:
    tenant_id: str
    cohort_by: str
    period_start: date
    period_end: date
    cohorts: list[Cohort]


def _cohort_table(
    members: dict[Any, date],
    active_days: dict[Any, set[date]],
    period: LmsPeriod,
    monthly: bool,
    today: date,
) -> list[Cohort]:
    """Members (key → the day they joined) grouped into the period's cohorts, with their active offsets."""
    by_cohort: dict[date, list[Any]] = defaultdict(list)
    for member, joined in members.items():
        by_cohort[unit_start(joined, monthly)].append(member)
    cohorts = []
    start = unit_start(period.first, monthly)
    while start <= period.last:
        end = next_unit(start, monthly) - timedelta(days=1)
        group = by_cohort.get(start, [])
        active: list[int] = []
        window = start
        while window <= today and len(active) < MAX_OFFSETS:
            window_end = next_unit(window, monthly) - timedelta(days=1)
            active.append(
                sum(1 for m in group if any(window <= d <= window_end for d in active_days.get(m, ())))
            )
            window = window_end + timedelta(days=1)
        cohorts.append(
            Cohort(start, end, len(group), active, [measures.percent(a, len(group)) for a in active])
        )
        start = end + timedelta(days=1)
    return cohorts


def _cohort_params(period: LmsPeriod, monthly: bool, today: date) -> dict[str, Any]:
    """``tenant``; ``start``/``end``: the UTC instants bounding the period's cohorts (whole weeks or months);
    ``first``: the first cohort's first day; ``today``."""
    first = unit_start(period.first, monthly)
    after = next_unit(unit_start(period.last, monthly), monthly)

    def instant(day: date) -> str:
        return ch_time(LmsPeriod(period.tenant_id, period.zone, day, day).start)

    return {
        "tenant": period.tenant_id,
        "start": instant(first),
        "end": instant(after),
        "first": first,
        "today": today,
    }


async def signup_cohorts(
    store: QueryStore,
    period: LmsPeriod,
    monthly: bool,
    today: date,
    user_type: str | None = None,
    institute_id: int | None = None,
) -> CohortAnalysis:
    """People by the week or month they signed up in (``user_type``, ``institute_id``: only those)."""
    params = {
        **_cohort_params(period, monthly, today),
        "kind": user_type or "",
        "institute": institute_id or 0,
    }
    only = (" AND user_type = {kind:String}" if user_type else "") + (
        " AND institute_id = {institute:UInt64}" if institute_id else ""
    )
    rows = await store.rows(
        "SELECT user_id, signed_up_at FROM lms_users FINAL WHERE tenant_id = {tenant:String} "
        "AND is_deleted = 0 AND signed_up_at >= {start:DateTime64(3, 'UTC')} "
        "AND signed_up_at < {end:DateTime64(3, 'UTC')}" + only,
        params,
    )
    zone = period.zone
    members = {str(user): utc(signed).astimezone(zone).date() for user, signed in rows}
    active: dict[Any, set[date]] = defaultdict(set)
    if members:
        params["users"] = sorted(members)
        for user, day in await store.rows(
            f"SELECT user_id, bucket FROM {USER_DAYS.table} WHERE tenant_id = {{tenant:String}} "
            "AND grain = 'daily' AND user_id IN {users:Array(String)} AND bucket >= {first:Date} "
            "AND bucket <= {today:Date} GROUP BY user_id, bucket",
            params,
        ):
            active[str(user)].add(day)
    by = "SIGNUP_MONTH" if monthly else "SIGNUP_WEEK"
    table = _cohort_table(members, active, period, monthly, today)
    return CohortAnalysis(period.tenant_id, by, period.first, period.last, table)


async def enrollment_cohorts(
    store: QueryStore,
    period: LmsPeriod,
    monthly: bool,
    today: date,
    course_id: int | None = None,
    institute_id: int | None = None,
) -> CohortAnalysis:
    """Enrollments by the week or month they were made in; a member is active in an offset when the student
    had activity in that course then (``course_id``, ``institute_id`` of the course: only those)."""
    params = {
        **_cohort_params(period, monthly, today),
        "course": course_id or 0,
        "institute": institute_id or 0,
    }
    only = " AND course_id = {course:UInt64}" if course_id else ""
    if institute_id:
        only += (
            " AND course_id IN (SELECT course_id FROM lms_courses FINAL WHERE tenant_id = {tenant:String} "
            "AND is_deleted = 0 AND institute_id = {institute:UInt64})"
        )
    rows = await store.rows(
        "SELECT user_id, course_id, enrolled_at FROM lms_enrollments FINAL WHERE tenant_id = {tenant:String} "
        "AND is_deleted = 0 AND enrolled_at >= {start:DateTime64(3, 'UTC')} "
        "AND enrolled_at < {end:DateTime64(3, 'UTC')}" + only,
        params,
    )
    zone = period.zone
    members = {(str(user), int(course)): utc(at).astimezone(zone).date() for user, course, at in rows}
    active: dict[Any, set[date]] = defaultdict(set)
    if members:
        params["users"] = sorted({user for user, _ in members})
        params["courses"] = sorted({course for _, course in members})
        for user, course, day in await store.rows(
            f"SELECT user_id, course_id, bucket FROM {COURSE_ACTIVITY.table} "
            "WHERE tenant_id = {tenant:String} AND grain = 'daily' AND user_id IN {users:Array(String)} "
            "AND course_id IN {courses:Array(UInt64)} AND bucket >= {first:Date} AND bucket <= {today:Date} "
            "GROUP BY user_id, course_id, bucket",
            params,
        ):
            active[(str(user), int(course))].add(day)
    by = "ENROLLMENT_MONTH" if monthly else "ENROLLMENT_WEEK"
    table = _cohort_table(members, active, period, monthly, today)
    return CohortAnalysis(period.tenant_id, by, period.first, period.last, table)


@dataclass(frozen=True, slots=True)
class RetentionPoint:
    period_start: date
    period_end: date
    active_users: int
    new_users: int
    returning_users: int
    retained_users: int
    """also active in the point before"""
    retention_rate: Percent
    """retained ÷ active in the point before, in percent"""


@dataclass(frozen=True, slots=True)
class RetentionSegment:
    segment: str
    """``all``; a user type; ``institute:<id>`` (``institute:0``: none known)"""
    points: list[RetentionPoint]


@dataclass(frozen=True, slots=True)
class RetentionAnalysis:
    tenant_id: str
    segment_by: str
    period_start: date
    period_end: date
    segments: list[RetentionSegment]


def _window_of_day(first: date, last: date, windows: list[tuple[date, date]]) -> list[int]:
    """For each day of ``first``..``last``: the number (from 1) of the window of ``windows`` holding it, 0 for
    none — a lookup the statement makes per row instead of the days going to Python."""
    numbers = [0] * ((last - first).days + 1)
    for number, (start, end) in enumerate(windows, start=1):
        for offset in range(max((start - first).days, 0), min((end - first).days, len(numbers) - 1) + 1):
            numbers[offset] = number
    return numbers


async def retention(
    store: QueryStore, period: LmsPeriod, spans: list[tuple[date, date]], segment_by: str
) -> RetentionAnalysis:
    """Retention over ``spans`` (the period's points, oldest first), segmented by ``segment_by``: ``NONE``,
    ``USER_TYPE`` or ``INSTITUTE``."""
    before = spans[0][0] - (spans[0][1] - spans[0][0]) - timedelta(days=1)
    windows = [(before, spans[0][0] - timedelta(days=1)), *spans]
    params: dict[str, Any] = {
        "tenant": period.tenant_id,
        "from": before,
        "from_day": day_number(before),
        "last": period.last,
        "window_of_day": _window_of_day(before, period.last, windows),
    }
    rows = await store.rows(
        "SELECT d.user_id, any(d.user_type), min(d.bucket), "
        "groupUniqArrayIf({window_of_day:Array(UInt16)}[toInt64(d.bucket) - {from_day:Int64} + 1], "
        "d.bucket >= {from:Date}), any(u.institute_id) "
        f"FROM {USER_DAYS.table} AS d LEFT JOIN (SELECT user_id, institute_id FROM lms_users FINAL "
        "WHERE tenant_id = {tenant:String} AND is_deleted = 0) AS u ON u.user_id = d.user_id "
        "WHERE d.tenant_id = {tenant:String} AND d.grain = 'daily' AND d.bucket <= {last:Date} "
        "GROUP BY d.user_id",
        params,
    )
    segment_of: Callable[[str, int], str] = {
        "NONE": lambda kind, institute: "all",
        "USER_TYPE": lambda kind, institute: kind,
        "INSTITUTE": lambda kind, institute: f"institute:{institute}",
    }[segment_by]
    people: dict[str, list[tuple[date, set[int]]]] = defaultdict(list)
    for _, kind, first_day, marks, institute in rows:
        # windows numbered from 1 in SQL (0: a day in none), from 0 here
        people[segment_of(str(kind), int(institute or 0))].append((first_day, {m - 1 for m in marks if m}))

    segments = []
    for segment in sorted(people):
        members = people[segment]
        points = []
        for index in range(1, len(windows)):
            start, end = windows[index]
            active = [(first_day, marks) for first_day, marks in members if index in marks]
            earlier = sum(1 for _, marks in members if index - 1 in marks)
            new = sum(1 for first_day, _ in active if start <= first_day <= end)
            retained = sum(1 for _, marks in active if index - 1 in marks)
            points.append(
                RetentionPoint(
                    start,
                    end,
                    len(active),
                    new,
                    len(active) - new,
                    retained,
                    measures.percent(retained, earlier),
                )
            )
        segments.append(RetentionSegment(segment, points))
    return RetentionAnalysis(period.tenant_id, segment_by, period.first, period.last, segments)
