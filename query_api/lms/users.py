"""``UserAnalytics`` and ``MonthlyUserMetrics``: a person's figures over a period, from
``rollup_lms_user_days`` in one statement for every requested person.

The period's coarsest cover (:mod:`query_api.lms.grains`) gives the sums and the distinct counts —
``uniqExactMerge`` of the courses, videos, quizzes and assignments states, exact over any mix of grains —
and the daily rows of the same statement give the active days (engagement). Formulas:
:mod:`schemas.lms_measures`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from query_api.lms.grains import daily_condition, period_condition
from query_api.lms.models import LmsPeriod, MonthlyUserMetrics, Person, UserAnalytics
from query_api.store import QueryStore
from schemas import lms_measures as measures
from schemas.rollups import rollup

USER_DAYS = rollup("lms_user_days")


@dataclass(frozen=True, slots=True)
class UserFacts:
    logins: int = 0
    sessions_ended: int = 0
    session_seconds: int = 0
    courses_accessed: int = 0
    videos_watched: int = 0
    quizzes_attempted: int = 0
    quizzes_completed: int = 0
    assignments_submitted: int = 0
    courses_completed: int = 0
    active_days: int = 0


async def user_facts(
    store: QueryStore, period: LmsPeriod, people: Sequence[Person]
) -> dict[Person, UserFacts]:
    """The facts of every person in ``people`` over ``period`` (zeros for one without activity)."""
    keys = {person.key: person for person in people}
    facts = dict.fromkeys(keys.values(), UserFacts())
    if not keys:
        return facts
    params: dict[str, object] = {"tenant": period.tenant_id, "users": sorted(keys)}
    covered = period_condition(period.first, period.last, params)
    daily = daily_condition(period.first, period.last, params)
    rows = await store.rows(
        f"SELECT user_id, sumIf(logins, {covered}), sumIf(sessions_ended, {covered}), "
        f"sumIf(session_seconds, {covered}), uniqExactMergeIf(courses_accessed, {covered}), "
        f"uniqExactMergeIf(videos_watched, {covered}), sumIf(quizzes_attempted, {covered}), "
        f"uniqExactMergeIf(quizzes_completed, {covered}), "
        f"uniqExactMergeIf(assignments_submitted, {covered}), "
        f"sumIf(courses_completed, {covered}), uniqExactIf(bucket, {daily}) FROM {USER_DAYS.table} "
        "WHERE tenant_id = {tenant:String} AND user_id IN {users:Array(String)} "
        f"AND ({covered} OR {daily}) GROUP BY user_id",
        params,
    )
    for key, *values in rows:
        facts[keys[str(key)]] = UserFacts(*(int(v) for v in values))
    return facts


def _engagement(item: UserFacts, period: LmsPeriod) -> Decimal:
    return measures.user_engagement(item.active_days, period.days)


async def user_analytics(
    store: QueryStore, period: LmsPeriod, people: Sequence[Person]
) -> dict[Person, UserAnalytics]:
    facts = await user_facts(store, period, people)
    return {
        person: UserAnalytics(
            user_id=person.user_id,
            user_type=person.user_type,
            tenant_id=period.tenant_id,
            period_start=period.first,
            period_end=period.last,
            login_count=item.logins,
            session_duration_avg=measures.average_minutes(item.session_seconds, item.sessions_ended),
            courses_accessed=item.courses_accessed,
            videos_watched=item.videos_watched,
            quizzes_attempted=item.quizzes_attempted,
            assignments_submitted=item.assignments_submitted,
            engagement_score=_engagement(item, period),
        )
        for person, item in facts.items()
    }


def month_period(tenant_id: str, zone: ZoneInfo, year: int, month: int) -> LmsPeriod:
    """The calendar month ``year``-``month`` in the tenant's zone."""
    first = date(year, month, 1)
    return LmsPeriod(tenant_id, zone, first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1))


async def monthly_user_metrics(
    store: QueryStore, tenant_id: str, zone: ZoneInfo, year: int, month: int, people: Sequence[Person]
) -> dict[Person, MonthlyUserMetrics]:
    period = month_period(tenant_id, zone, year, month)
    facts = await user_facts(store, period, people)
    return {
        person: MonthlyUserMetrics(
            user_id=person.user_id,
            user_type=person.user_type,
            month=month,
            year=year,
            total_login_time=measures.minutes(item.session_seconds),
            courses_completed=item.courses_completed,
            videos_watched=item.videos_watched,
            quizzes_completed=item.quizzes_completed,
            assignments_submitted=item.assignments_submitted,
            engagement_score=_engagement(item, period),
            tenant_id=tenant_id,
        )
        for person, item in facts.items()
    }
