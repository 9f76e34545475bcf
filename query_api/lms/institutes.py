"""Institute performance (the seed answers ``institutes/{instituteId}/performance`` with ``SystemMetrics``,
which has no institute in it): the people and courses an institute has now (current state:
``lms_users``/``lms_courses FINAL``, deleted ones left out) and what they did in a period.

People figures come from ``rollup_lms_user_days`` (active users, logins, sessions) of the institute's users;
course figures from the course facts of :mod:`query_api.lms.courses` over the institute's courses, pooled:
the completion rate over all their enrollments, the mean progress over all their learners, engagement as
active learner-days ÷ possible learner-days (a student of two courses counts in each);
active students are distinct over the institute's courses. Formulas: :mod:`schemas.lms_measures`."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from query_api.lms.courses import Part, course_facts
from query_api.lms.grains import period_condition
from query_api.lms.models import LmsPeriod, Percent
from query_api.lms.state import period_params
from query_api.store import QueryStore
from schemas import lms_measures as measures
from schemas.rollups import rollup

USER_DAYS = rollup("lms_user_days")
COURSE_ACTIVITY = rollup("lms_course_activity")


@dataclass(frozen=True, slots=True)
class InstituteFigures:
    institute_id: int
    total_users: int
    """people whose current state names the institute, signed up by the period's end"""
    active_users: int
    """of the institute's people, those with any activity in the period"""
    total_courses: int
    """the institute's courses published by the period's end"""
    active_courses: int
    """the institute's courses with a course event in the period"""
    total_enrollments: int
    active_students: int
    completion_rate: Percent
    average_progress: Percent
    engagement_score: Percent
    total_watch_time: int
    """minutes"""
    total_sessions: int
    average_session_duration: int
    """minutes"""


@dataclass(frozen=True, slots=True)
class InstitutePerformance:
    tenant_id: str
    period_start: date
    period_end: date
    institute: InstituteFigures
    comparison: list[InstituteFigures] | None
    """every institute of the tenant (this one included), by id — when asked for"""


async def institutes_of(store: QueryStore, tenant_id: str) -> list[int]:
    """Every institute the tenant has now: a current institute, or one named by a current course or person."""
    rows = await store.rows(
        "SELECT DISTINCT institute_id FROM (SELECT institute_id FROM lms_institutes FINAL "
        "WHERE tenant_id = {tenant:String} AND is_deleted = 0 UNION ALL SELECT institute_id FROM lms_courses "
        "FINAL WHERE tenant_id = {tenant:String} AND is_deleted = 0 UNION ALL SELECT institute_id "
        "FROM lms_users FINAL WHERE tenant_id = {tenant:String} AND is_deleted = 0) WHERE institute_id > 0 "
        "ORDER BY institute_id",
        {"tenant": tenant_id},
    )
    return [int(i) for (i,) in rows]


async def institute_performance(
    store: QueryStore, period: LmsPeriod, institute_ids: Sequence[int]
) -> dict[int, InstituteFigures]:
    ids = sorted(set(institute_ids))
    params: dict[str, Any] = {**period_params(period), "institutes": ids}
    covered = period_condition(period.first, period.last, params)
    courses_rows = await store.rows(
        "SELECT institute_id, course_id, is_published = 1 AND ifNull(published_at < "
        "{end:DateTime64(3, 'UTC')}, 1) FROM lms_courses FINAL WHERE tenant_id = {tenant:String} "
        "AND is_deleted = 0 AND institute_id IN {institutes:Array(UInt64)}",
        params,
    )
    owner = {int(course): int(institute) for institute, course, _ in courses_rows}
    params["owned"], params["owners"] = list(owner), list(owner.values())
    people_rows, activity_rows, users_rows, facts = await asyncio.gather(
        store.rows(
            "SELECT u.institute_id, uniqExact(d.user_id), sum(d.logins), sum(d.sessions_ended), "
            f"sum(d.session_seconds) FROM {USER_DAYS.table} AS d INNER JOIN (SELECT user_id, institute_id "
            "FROM lms_users FINAL WHERE tenant_id = {tenant:String} AND is_deleted = 0 "
            "AND institute_id IN {institutes:Array(UInt64)}) AS u ON d.user_id = u.user_id "
            f"WHERE d.tenant_id = {{tenant:String}} AND {covered} GROUP BY u.institute_id",
            params,
        ),
        store.rows(
            "SELECT transform(course_id, {owned:Array(UInt64)}, {owners:Array(UInt64)}, 0) AS institute, "
            f"uniqExact(course_id), uniqExactIf(user_id, {measures.ACTIVE_STUDENT_SQL}) "
            f"FROM {COURSE_ACTIVITY.table} WHERE tenant_id = {{tenant:String}} "
            f"AND course_id IN {{owned:Array(UInt64)}} AND {covered} GROUP BY institute",
            params,
        ),
        store.rows(
            "SELECT institute_id, count() FROM lms_users FINAL WHERE tenant_id = {tenant:String} "
            "AND is_deleted = 0 AND institute_id IN {institutes:Array(UInt64)} "
            "AND signed_up_at < {end:DateTime64(3, 'UTC')} GROUP BY institute_id",
            params,
        ),
        course_facts(store, period, list(owner), {Part.PROGRESS, Part.ACTIVITY}),
    )
    published: dict[int, int] = defaultdict(int)
    for institute, _, is_published in courses_rows:
        published[int(institute)] += int(is_published)
    people = {int(i): [int(v) for v in values] for i, *values in people_rows}
    activity = {int(i): [int(v) for v in values] for i, *values in activity_rows}
    users = {int(i): int(n) for i, n in users_rows}
    out = {}
    for institute in ids:
        mine = [facts[c] for c, i in owner.items() if i == institute]
        active_users, logins, ended, session_seconds = people.get(institute, [0, 0, 0, 0])
        active_courses, active_students = activity.get(institute, [0, 0])
        learners = sum(len(f.students) for f in mine)
        learner_days = sum(
            days for f in mine for student, days in f.active_days.items() if student in f.students
        )
        progress = [f.progress_centi.get(s, 0) for f in mine for s in f.students]
        out[institute] = InstituteFigures(
            institute_id=institute,
            total_users=users.get(institute, 0),
            active_users=active_users,
            total_courses=published.get(institute, 0),
            active_courses=active_courses,
            total_enrollments=sum(f.enrollments for f in mine),
            active_students=active_students,
            completion_rate=measures.completion_rate(
                sum(f.completed_by_end for f in mine), sum(f.enrollments for f in mine)
            ),
            average_progress=measures.average_progress(progress),
            engagement_score=measures.course_engagement(learner_days, learners, period.days),
            total_watch_time=measures.minutes(sum(f.watch_seconds for f in mine)),
            total_sessions=logins,
            average_session_duration=measures.average_minutes(session_seconds, ended),
        )
    return out
