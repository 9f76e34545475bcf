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

from query_api.lms.models import LmsPeriod, MonthlyUserMetrics, Person, UserAnalytics
from query_api.lms.spans import PeriodIndex
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


_FACTS_SQL = (
    f"SELECT span % {PeriodIndex.DAYS}, span > {PeriodIndex.DAYS}, user_id, [toInt64(sum(logins)), "
    "toInt64(sum(sessions_ended)), toInt64(sum(session_seconds)), toInt64(uniqExactMerge(courses_accessed)), "
    "toInt64(uniqExactMerge(videos_watched)), toInt64(sum(quizzes_attempted)), "
    "toInt64(uniqExactMerge(quizzes_completed)), toInt64(uniqExactMerge(assignments_submitted)), "
    "toInt64(sum(courses_completed)), toInt64(uniqExact(bucket))] "
    "FROM (SELECT grain, bucket, user_id, logins, sessions_ended, session_seconds, courses_accessed, "
    "videos_watched, quizzes_attempted, quizzes_completed, assignments_submitted, courses_completed "
    f"FROM {USER_DAYS.table} WHERE tenant_id = {{tenant:String}} AND user_id IN {{users:Array(String)}} "
    f"AND {PeriodIndex.COVER_ROWS}) "
    f"ARRAY JOIN {PeriodIndex.cover_and_days_join('1')} AS span GROUP BY span, user_id"
)
"""Per period (``span``) and person: the sums over the period's cover, and (rows of ``span > DAYS``) the
period's active days from the daily rows, in one scan (ADR 0022)."""


async def user_facts_by_period(
    store: QueryStore, periods: Sequence[LmsPeriod], people: Sequence[Person]
) -> list[dict[Person, UserFacts]]:
    """The facts of every person in ``people`` over each of ``periods`` (one tenant and zone; zeros for one
    without activity), in one statement: the sums over each period's cover, the active days from the daily
    rows."""
    keys = {person.key: person for person in people}
    facts = [dict.fromkeys(keys.values(), UserFacts()) for _ in periods]
    if not keys or not periods:
        return facts
    params = {**PeriodIndex(periods).params(), "users": sorted(keys)}
    sums: dict[tuple[int, str], list[int]] = {}
    active: dict[tuple[int, str], int] = {}
    for span, is_days, key, values in await store.rows(_FACTS_SQL, params):
        if is_days:
            active[(int(span), str(key))] = int(values[-1])
        else:
            sums[(int(span), str(key))] = [int(v) for v in values]
    # a person with a daily row in a period has a row of its cover too
    for (span, key), numbers in sums.items():
        numbers[-1] = active.get((span, key), 0)  # the cover's distinct buckets: replaced by the active days
        facts[span - 1][keys[key]] = UserFacts(*numbers)
    return facts


async def user_facts(
    store: QueryStore, period: LmsPeriod, people: Sequence[Person]
) -> dict[Person, UserFacts]:
    """:func:`user_facts_by_period` of one period."""
    return (await user_facts_by_period(store, [period], people))[0]


def _engagement(item: UserFacts, period: LmsPeriod) -> Decimal:
    return measures.user_engagement(item.active_days, period.days)


def _analytics(period: LmsPeriod, person: Person, item: UserFacts) -> UserAnalytics:
    return UserAnalytics(
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


async def user_analytics_by_period(
    store: QueryStore, periods: Sequence[LmsPeriod], people: Sequence[Person]
) -> list[dict[Person, UserAnalytics]]:
    found = await user_facts_by_period(store, periods, people)
    return [
        {person: _analytics(period, person, item) for person, item in facts.items()}
        for period, facts in zip(periods, found, strict=True)
    ]


async def user_analytics(
    store: QueryStore, period: LmsPeriod, people: Sequence[Person]
) -> dict[Person, UserAnalytics]:
    return (await user_analytics_by_period(store, [period], people))[0]


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
