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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from query_api.lms.courses import Part, course_facts
from query_api.lms.grains import period_condition
from query_api.lms.models import LmsPeriod, Percent
from query_api.lms.state import CourseEntry, period_params
from query_api.store import QueryStore
from schemas import lms_measures as measures
from schemas.rollups import rollup

USER_DAYS = rollup("lms_user_days")


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
    store: QueryStore, period: LmsPeriod, institute_ids: Sequence[int], catalog: Mapping[int, CourseEntry]
) -> dict[int, InstituteFigures]:
    """The figures of each of ``institute_ids`` over ``period``; ``catalog``: the tenant's live courses now
    (:attr:`query_api.lms.catalog_cache.CatalogSnapshot.courses`), which say each course's institute."""
    ids = sorted(set(institute_ids))
    owner = {course: entry.institute_id for course, entry in catalog.items() if entry.institute_id in ids}
    params: dict[str, Any] = {**period_params(period), "institutes": ids}
    covered = period_condition(period.first, period.last, params)
    people_rows, facts = await asyncio.gather(
        # per institute: its people signed up by the end, and of its people those active in the period
        store.rows(
            "SELECT u.institute_id, countIf(u.signed_up_at < {end:DateTime64(3, 'UTC')}), "
            "countIf(d.user_id != ''), sum(d.logins), sum(d.sessions_ended), sum(d.session_seconds) "
            "FROM (SELECT user_id, institute_id, signed_up_at FROM lms_users FINAL "
            "WHERE tenant_id = {tenant:String} AND is_deleted = 0 "
            "AND institute_id IN {institutes:Array(UInt64)}) AS u "
            "LEFT JOIN (SELECT user_id, sum(logins) AS logins, sum(sessions_ended) AS sessions_ended, "
            f"sum(session_seconds) AS session_seconds FROM {USER_DAYS.table} "
            f"WHERE tenant_id = {{tenant:String}} AND {covered} GROUP BY user_id) AS d "
            "ON d.user_id = u.user_id GROUP BY u.institute_id",
            params,
        ),
        course_facts(store, period, list(owner), {Part.PROGRESS, Part.ACTIVITY}),
    )
    published: dict[int, int] = defaultdict(int)
    for course, institute in owner.items():
        published[institute] += catalog[course].published_before(period.end)
    people = {int(i): [int(v) for v in values] for i, *values in people_rows}
    out = {}
    for institute in ids:
        mine = [facts[c] for c, i in owner.items() if i == institute]
        total_users, active_users, logins, ended, session_seconds = people.get(institute, [0, 0, 0, 0, 0])
        learners = sum(len(f.students) for f in mine)
        learner_days = sum(
            days for f in mine for student, days in f.active_days.items() if student in f.students
        )
        progress = [f.progress_centi.get(s, 0) for f in mine for s in f.students]
        out[institute] = InstituteFigures(
            institute_id=institute,
            total_users=total_users,
            active_users=active_users,
            total_courses=published.get(institute, 0),
            active_courses=sum(f.any_activity for f in mine),
            total_enrollments=sum(f.enrollments for f in mine),
            active_students=len(set().union(*(f.active_days for f in mine))),
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
