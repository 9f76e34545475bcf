"""``AssessmentAnalytics``: the attempts at an assessment started in a period, from
``rollup_lms_attempts FINAL`` (one row per attempt: its newest snapshot, on the day it started).

The assessment's type and course come from the course that lists it now (the caller's catalog snapshot,
else ``lms_courses FINAL``; the smallest course id if several do), else from its attempts (an assessment
whose course has not arrived yet). An assessment neither listed by a course nor attempted in the period has
no figures and is left out. Formulas: :mod:`schemas.lms_measures`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from query_api.lms.grains import daily_condition
from query_api.lms.models import AssessmentAnalytics, LmsPeriod, Person
from query_api.lms.state import ATTEMPTS, CourseEntry, course_catalog, period_params
from query_api.store import QueryStore
from schemas import lms_measures as measures


@dataclass
class AttemptFacts:
    course_id: int
    assessment_type: str
    attempts: int = 0
    handed_in: int = 0
    scored: int = 0
    score_centi: int = 0
    max_score_centi: int = 0
    passed: int = 0
    judged: int = 0
    timed: int = 0
    time_taken_seconds: int = 0

    def add(self, values: Sequence[int]) -> None:
        self.attempts += values[0]
        self.handed_in += values[1]
        self.scored += values[2]
        self.score_centi += values[3]
        self.max_score_centi += values[4]
        self.passed += values[5]
        self.judged += values[6]
        self.timed += values[7]
        self.time_taken_seconds += values[8]


async def assessment_analytics(
    store: QueryStore,
    period: LmsPeriod,
    assessment_ids: Sequence[int],
    person: Person | None = None,
    catalog: Mapping[int, CourseEntry] | None = None,
) -> dict[int, AssessmentAnalytics]:
    """Figures of each assessment of ``assessment_ids`` over the attempts started in ``period`` (``person``'s
    attempts only, when given: a learner's own scores). ``catalog``: the tenant's live courses' current
    entries, when the caller holds them (else read alongside the attempts)."""
    ids = sorted(set(assessment_ids))
    if not ids:
        return {}
    params = {
        **period_params(period),
        "assessments": ids,
        "states": list(measures.SUBMITTED_STATES),
        "person": person.key if person else "",
    }
    only = " AND user_id = {person:String}" if person else ""
    handed_in = "state IN {states:Array(String)}"
    attempts = store.rows(
        "SELECT assessment_id, course_id, assessment_type, count(), countIf("
        + handed_in
        + "), countIf(score_centi IS NOT NULL), sum(ifNull(score_centi, 0)), "
        "sumIf(max_score_centi, score_centi IS NOT NULL), countIf(passed = 1), "
        "countIf(passed IS NOT NULL), "
        f"countIf({handed_in} AND time_taken_seconds IS NOT NULL), "
        f"sumIf(ifNull(time_taken_seconds, 0), {handed_in}) "
        f"FROM {ATTEMPTS.table} FINAL WHERE tenant_id = {{tenant:String}} "
        f"AND {daily_condition(period.first, period.last, params)} "
        "AND assessment_id IN {assessments:Array(UInt64)}" + only + " "
        "GROUP BY assessment_id, course_id, assessment_type "
        "ORDER BY assessment_id, course_id, assessment_type",
        params,
    )
    if catalog is None:
        rows, catalog = await asyncio.gather(attempts, course_catalog(store, period.tenant_id))
    else:
        rows = await attempts
    listed: dict[int, tuple[int, str]] = {}
    for course in sorted(catalog):
        for assessment, kind in catalog[course].assessments.items():
            listed.setdefault(assessment, (course, kind))
    facts: dict[int, AttemptFacts] = {
        assessment: AttemptFacts(*listed[assessment]) for assessment in ids if assessment in listed
    }
    for assessment, course, kind, *values in rows:
        item = facts.setdefault(int(assessment), AttemptFacts(int(course), str(kind)))
        item.add([int(v) for v in values])
    out = {}
    for assessment, item in facts.items():
        average = measures.average_score(item.score_centi, item.max_score_centi)
        out[assessment] = AssessmentAnalytics(
            assessment_id=assessment,
            assessment_type=item.assessment_type,
            course_id=item.course_id,
            total_attempts=item.attempts,
            completed_attempts=item.handed_in,
            average_score=average,
            pass_rate=measures.pass_rate(item.passed, item.judged),
            average_time_taken=measures.average_minutes(item.time_taken_seconds, item.timed),
            difficulty_score=measures.difficulty_score(average, item.scored),
            period_start=period.first,
            period_end=period.last,
            tenant_id=period.tenant_id,
        )
    return out


async def attempted(
    store: QueryStore,
    tenant_id: str,
    person: Person,
    course_id: int | None = None,
    assessment_type: str | None = None,
) -> tuple[list[int], date | None]:
    """The assessments ``person`` has attempted (in ``course_id``, of ``assessment_type``, when given), by id,
    and the local day of their first attempt (``None`` without one)."""
    params: dict[str, object] = {
        "tenant": tenant_id,
        "person": person.key,
        "course": course_id or 0,
        "kind": assessment_type or "",
    }
    where = "tenant_id = {tenant:String} AND grain = 'daily' AND user_id = {person:String}"
    if course_id is not None:
        where += " AND course_id = {course:UInt64}"
    if assessment_type is not None:
        where += " AND assessment_type = {kind:String}"
    rows = await store.rows(
        f"SELECT assessment_id, min(bucket) FROM {ATTEMPTS.table} WHERE {where} "
        "GROUP BY assessment_id ORDER BY assessment_id",
        params,
    )
    return [int(a) for a, _ in rows], min((first for _, first in rows), default=None)
