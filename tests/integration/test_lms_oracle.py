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

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio

from ingest_gateway.settings import GatewaySettings
from loadgen.lms_platform import TenantPlatform, generate_platform
from plumbing.clickhouse import open_client
from plumbing.migrate import migrate
from plumbing.tenant_store import save_tenant_settings
from query_api import lms
from query_api.metrics import QueryMetrics
from query_api.store import QueryStore
from schemas.lms_payloads import LMS_ROUTES
from schemas.tenant_config import Retention, TenantSettings
from tests.conftest import ClickHouseTarget, require_marker, unavailable
from tests.support import lms_oracle as oracle
from tests.support.asgi import served
from tests.support.auth import token
from tests.support.dev_app import dev_app

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
BATCH = 1000
LONG_RETENTION = Retention(raw_days=3660, daily_rollup_days=3660, weekly_monthly_rollup_days=7320)
"""The term lies in the past: a gateway posting it later than the default raw retention would refuse it."""
PEOPLE_PER_TENANT = 30
VIDEO_STUDENTS_PER_TENANT = 8


def _periods() -> list[tuple[date, date]]:
    months = [(date(y, m, 1), date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1)) for y, m in MONTHS]
    return [*((d, d) for d in DAYS), *((w, w + timedelta(days=6)) for w in WEEKS), *months, *RANGES]


PERIODS = _periods()


@dataclass(frozen=True)
class Tenant:
    """One tenant's facts and the ids the comparison asks for."""

    tenant_id: str
    zone: ZoneInfo
    facts: oracle.Facts
    courses: list[int]
    assessments: list[int]
    people: list[tuple[str, int]]
    video_students: list[int]


def _ids(platform: TenantPlatform) -> Tenant:
    courses: set[int] = set()
    assessments: set[int] = set()
    people: set[tuple[str, int]] = set()
    for item in platform.items:
        body = item.body
        if body.get("course_id"):
            courses.add(int(body["course_id"]))
        if body.get("assessment_id"):
            assessments.add(int(body["assessment_id"]))
        assessments.update(int(a["assessment_id"]) for a in body.get("assessments", []))
        if "user_type" in body:
            people.add((str(body["user_type"]), int(body["user_id"])))
        if body.get("type") == "enrollment":
            people.add(("student", int(body["student_id"])))
    staff = sorted(p for p in people if p[0] != "student")
    students = sorted(p for p in people if p[0] == "student")
    step = max(1, len(students) // max(1, PEOPLE_PER_TENANT - len(staff)))
    sample = [*staff, *students[::step]][: max(PEOPLE_PER_TENANT, len(staff) + 1)]
    facts = oracle.facts_of(
        platform.tenant_id, platform.time_zone, ((i.stream.value, i.body) for i in platform.items)
    )
    video_step = max(1, len(students) // VIDEO_STUDENTS_PER_TENANT)
    return Tenant(
        platform.tenant_id,
        ZoneInfo(platform.time_zone),
        facts,
        sorted(courses),
        sorted(assessments),
        sample,
        [ident for _, ident in students[::video_step]],
    )


@pytest.fixture(scope="module")
def platforms() -> list[TenantPlatform]:
    return generate_platform(seed=7)


def _mess(platform: TenantPlatform) -> dict[str, int]:
    """How messy the delivery is: versions after a newer one of the same entity, activity before its
    course's or person's first document, re-sent client ids, activity delivered more than a day after a
    later-dated event."""
    newest: dict[tuple[str, ...], int] = {}
    documented: set[tuple[str, Any]] = set()
    ids: set[str] = set()
    latest: datetime | None = None
    mess = dict.fromkeys(("versions out of order", "before the entity", "re-sent", "late"), 0)
    for item in platform.items:
        body = item.body
        if "id" in body:
            mess["re-sent"] += body["id"] in ids
            ids.add(body["id"])
        if body["type"] in oracle.ENTITY_KEYS:
            key = oracle.entity_key(body)
            mess["versions out of order"] += newest.get(key, -1) > body["version"]
            newest[key] = max(newest.get(key, -1), body["version"])
            if body["type"] == "course":
                documented.add(("course", body["course_id"]))
            elif body["type"] == "user":
                documented.add((body["user_type"], body["user_id"]))
        elif "user_type" in body:
            course_known = not body.get("course_id") or ("course", body["course_id"]) in documented
            person_known = (body["user_type"], body["user_id"]) in documented
            mess["before the entity"] += not (course_known and person_known)
            when = oracle.moment(body["timestamp"])
            mess["late"] += latest is not None and when < latest - timedelta(days=1)
            latest = when if latest is None else max(latest, when)
    return mess


@pytest.fixture(scope="module")
def tenants(platforms: list[TenantPlatform]) -> list[Tenant]:
    found = [_ids(p) for p in platforms]
    assert len(found) >= 3 and len({t.zone for t in found}) == len(found)
    assert all(len(t.people) >= PEOPLE_PER_TENANT and any(p[0] == "teacher" for p in t.people) for t in found)
    assert sum(len(t.courses) for t in found) == 20
    assert sum(1 for t in found for key in t.facts.versions if key[:2] == ("user", "student")) == 500
    assert all(len(t.facts.current["institute"]) >= 2 for t in found)
    for platform in platforms:
        assert all(count > 0 for count in _mess(platform).values()), (platform.tenant_id, _mess(platform))
    return found


async def _post_all(target: ClickHouseTarget, platforms: list[TenantPlatform]) -> None:
    """Every tenant's items to the learning routes of the one-process app with the tenant's own service
    credential: per stream in delivery order, ``BATCH`` items a call, the tenants' calls concurrent (commits
    are shared, as under real load)."""
    zones = {p.tenant_id: p.time_zone for p in platforms}
    app = dev_app(target, GatewaySettings(), tenant_timezones=zones)

    async def post(http: httpx.AsyncClient, platform: TenantPlatform) -> None:
        headers = {"authorization": f"Bearer {token('lms-backend', platform.tenant_id, ('service',))}"}
        for stream, route in LMS_ROUTES.items():
            bodies = [i.body for i in platform.items if i.stream is stream]
            for offset in range(0, len(bodies), BATCH):
                chunk = bodies[offset : offset + BATCH]
                response = await http.post(f"{route}/batch", json={"events": chunk}, headers=headers)
                assert response.status_code == 200, response.text[:2000]
                answer = response.json()["data"]
                assert (answer["processed_count"], answer["warnings"]) == (len(chunk), []), answer["errors"][
                    :5
                ]

    async with served(app, "http://lms") as http:
        await asyncio.gather(*(post(http, platform) for platform in platforms))


@pytest.fixture(scope="module")
def store_target(
    request: pytest.FixtureRequest, _clickhouse_url: str | None, platforms: list[TenantPlatform]
) -> Iterator[ClickHouseTarget]:
    """One database for the module, filled once through the gateway and the embedded pipeline."""
    require_marker(request, "clickhouse")
    if _clickhouse_url is None:
        unavailable("no ClickHouse: neither Docker nor the chdb package is available")
    assert _clickhouse_url is not None
    target = ClickHouseTarget(_clickhouse_url, f"test_lms_{uuid.uuid4().hex[:10]}")
    admin = open_client(_clickhouse_url, target.database, create_database=True)
    migrate(admin)
    for platform in platforms:
        save_tenant_settings(
            admin, platform.tenant_id, TenantSettings(time_zone=platform.time_zone, retention=LONG_RETENTION)
        )
    try:
        asyncio.run(_post_all(target, platforms))
        yield target
    finally:
        admin.command(f"DROP DATABASE IF EXISTS {target.database}")
        admin.close()


@pytest_asyncio.fixture
async def store(store_target: ClickHouseTarget) -> AsyncIterator[QueryStore]:
    query_store = QueryStore(store_target.client, QueryMetrics(), pool_size=2)
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
