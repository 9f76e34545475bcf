"""The learning platform's eight aggregation models against an independent oracle (issue 18's first
acceptance criterion).

A generated platform (:func:`loadgen.lms_platform.generate_platform`: three tenants in three zones, one with
a DST change in the term; institutes, 20 courses, 500 students, teachers, admins; a term from December to
March with late events, entity versions out of order, events before their entities and re-sent ids) is
posted, tenant by tenant with its own credential and zone, to the learning routes of the one-process app
(``analytics dev``: gateway, in-process bus, writers) — so every item goes through the real validation,
stamping, transforms and inserts into chDB, once per module. Then every field of every model, as the
readers of ``query_api.lms`` compute it from the rollups and current-state tables, must equal what
``tests/support/lms_oracle.py`` recomputes in plain Python from the request bodies: daily (term start, the
DST change day, month and year ends and starts), weekly (ISO weeks incl. the one across the year), monthly
and arbitrary ranges; every course, every assessment, every tenant, and a sample of people (teachers and
admins included) and of students' watch sessions. Integers and two-decimal percentages compare exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
import pytest_asyncio

from loadgen.lms_platform import TenantPlatform
from query_api import lms
from query_api.metrics import QueryMetrics
from query_api.store import QueryStore
from tests.conftest import ClickHouseTarget
from tests.support import lms_oracle as oracle
from tests.support.lms_platform_store import PEOPLE_PER_TENANT, Tenant, checked_tenants

pytestmark = pytest.mark.clickhouse

# The default term: 2025-12-01 .. 2026-03-15 (America/Chicago changes to DST on 2026-03-08).
MONTHS = [(2025, 12), (2026, 1), (2026, 2), (2026, 3)]
WEEKS = [date(2025, 12, 1), date(2025, 12, 29), date(2026, 3, 2), date(2026, 3, 9)]
"""The term's first ISO week, the one across the year, the one ending on the DST change, the one after."""
DAYS = [
    date(2025, 12, 1),
    date(2025, 12, 31),
    date(2026, 1, 1),
    date(2026, 2, 28),
    date(2026, 3, 1),
    date(2026, 3, 8),
    date(2026, 3, 9),
]
"""Term start, the year's end and start, a month's end and start, the DST change day and the day after."""
RANGES = [(date(2025, 12, 20), date(2026, 2, 10)), (date(2026, 2, 25), date(2026, 3, 12))]
"""Arbitrary: days, weeks and a whole month across the year; days and a week across a month and the DST
change."""


def _periods() -> list[tuple[date, date]]:
    months = [(date(y, m, 1), date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1)) for y, m in MONTHS]
    return [*((d, d) for d in DAYS), *((w, w + timedelta(days=6)) for w in WEEKS), *months, *RANGES]


PERIODS = _periods()


@pytest.fixture(scope="module")
def platforms(lms_platform: tuple[ClickHouseTarget, list[TenantPlatform]]) -> list[TenantPlatform]:
    return lms_platform[1]


@pytest.fixture(scope="module")
def tenants(platforms: list[TenantPlatform]) -> list[Tenant]:
    return checked_tenants(platforms)


@pytest_asyncio.fixture
async def store(lms_platform: tuple[ClickHouseTarget, list[TenantPlatform]]) -> AsyncIterator[QueryStore]:
    query_store = QueryStore(lms_platform[0].client, QueryMetrics(), pool_size=2)
    yield query_store
    await query_store.close()


class Differences:
    """Every field that differs, reported together (the first few in full)."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.compared = 0

    def check(self, what: str, got: Any, want: dict[str, Any] | None) -> None:
        self.compared += 1
        if want is None or got is None:
            if (want is None) != (got is None):
                self.found.append(f"{what}: got {got!r}, oracle {want!r}")
            return
        values = dataclasses.asdict(got)
        if set(values) != set(want):
            self.found.append(f"{what}: fields {sorted(values)} != {sorted(want)}")
            return
        for name, expected in want.items():
            if values[name] != expected or type(values[name]) is not type(expected) and expected is not None:
                self.found.append(f"{what}.{name}: got {values[name]!r}, oracle {expected!r}")

    def assert_none(self, least: int) -> None:
        assert self.compared >= least, f"only {self.compared} objects compared"
        assert not self.found, f"{len(self.found)} differences:\n" + "\n".join(self.found[:40])


async def test_course_models_equal_the_oracle(store: QueryStore, tenants: list[Tenant]) -> None:
    diff = Differences()
    for t in tenants:
        for first, last in PERIODS:
            period = lms.LmsPeriod(t.tenant_id, t.zone, first, last)
            got = await lms.course_analytics(store, period, t.courses)
            want = oracle.course_analytics(t.facts, t.courses, first, last)
            for course in t.courses:
                diff.check(
                    f"{t.tenant_id} CourseAnalytics {course} {first}..{last}", got.get(course), want[course]
                )
        for day in DAYS:
            got_daily = await lms.daily_course_metrics(store, t.tenant_id, t.zone, day, t.courses)
            want = oracle.daily_course_metrics(t.facts, t.courses, day)
            for course in t.courses:
                diff.check(
                    f"{t.tenant_id} DailyCourseMetrics {course} {day}", got_daily.get(course), want[course]
                )
        for monday in WEEKS:
            got_weekly = await lms.weekly_course_metrics(store, t.tenant_id, t.zone, monday, t.courses)
            want = oracle.weekly_course_metrics(t.facts, t.courses, monday)
            for course in t.courses:
                diff.check(
                    f"{t.tenant_id} WeeklyCourseMetrics {course} {monday}",
                    got_weekly.get(course),
                    want[course],
                )
    diff.assert_none(least=20 * (len(PERIODS) + len(DAYS) + len(WEEKS)))


async def test_user_models_equal_the_oracle(store: QueryStore, tenants: list[Tenant]) -> None:
    diff = Differences()
    for t in tenants:
        people = [lms.Person(kind, ident) for kind, ident in t.people]
        for first, last in PERIODS:
            got = await lms.user_analytics(store, lms.LmsPeriod(t.tenant_id, t.zone, first, last), people)
            want = oracle.user_analytics(t.facts, t.people, first, last)
            for person in people:
                key = (person.user_type, person.user_id)
                diff.check(
                    f"{t.tenant_id} UserAnalytics {person.key} {first}..{last}", got.get(person), want[key]
                )
        for year, month in MONTHS:
            got_monthly = await lms.monthly_user_metrics(store, t.tenant_id, t.zone, year, month, people)
            want = oracle.monthly_user_metrics(t.facts, t.people, year, month)
            for person in people:
                key = (person.user_type, person.user_id)
                diff.check(
                    f"{t.tenant_id} MonthlyUserMetrics {person.key} {year}-{month}",
                    got_monthly.get(person),
                    want[key],
                )
    diff.assert_none(least=len(tenants) * PEOPLE_PER_TENANT * (len(PERIODS) + len(MONTHS)))


async def test_system_metrics_equal_the_oracle(store: QueryStore, tenants: list[Tenant]) -> None:
    diff = Differences()
    for t in tenants:
        for first, last in PERIODS:
            got = await lms.system_metrics(store, lms.LmsPeriod(t.tenant_id, t.zone, first, last))
            diff.check(
                f"{t.tenant_id} SystemMetrics {first}..{last}",
                got,
                oracle.system_metrics(t.facts, first, last),
            )
    diff.assert_none(least=len(tenants) * len(PERIODS))


async def test_assessment_analytics_equal_the_oracle(store: QueryStore, tenants: list[Tenant]) -> None:
    diff = Differences()
    for t in tenants:
        for first, last in PERIODS:
            got = await lms.assessment_analytics(
                store, lms.LmsPeriod(t.tenant_id, t.zone, first, last), t.assessments
            )
            want = oracle.assessment_analytics(t.facts, t.assessments, first, last)
            assert set(got) == set(want), (t.tenant_id, first, last)
            for assessment in t.assessments:
                diff.check(
                    f"{t.tenant_id} AssessmentAnalytics {assessment} {first}..{last}",
                    got.get(assessment),
                    want.get(assessment),
                )
    diff.assert_none(least=len(tenants) * 10 * len(PERIODS))


async def test_video_watch_rows_equal_the_oracle(store: QueryStore, tenants: list[Tenant]) -> None:
    compared = 0
    for t in tenants:
        for first, last in [*PERIODS[-len(MONTHS) - len(RANGES) :]]:
            period = lms.LmsPeriod(t.tenant_id, t.zone, first, last)
            got = await lms.video_watch_analytics(store, period, t.video_students)
            want = oracle.video_watch_rows(t.facts, t.video_students, first, last)
            for student in t.video_students:
                rows = sorted(
                    (dataclasses.asdict(r) for r in got[student]),
                    key=lambda r: (r["start_time"], r["video_id"], r["session_id"]),
                )
                assert rows == want[student], (t.tenant_id, student, first, last)
                compared += len(rows)
    assert compared >= 100
