"""The engagement, completion, health and institute reads of the LMS API (issue 19) over HTTP, against the
independent oracle of ``tests/support/lms_oracle_engagement.py`` on the stored learning platform (three
tenants in three zones)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
import pytest_asyncio

from loadgen.lms_platform import TenantPlatform
from query_api.lms.institutes import institute_performance
from query_api.lms.models import LmsPeriod
from tests.conftest import ClickHouseTarget
from tests.support import lms_oracle as oracle
from tests.support import lms_oracle_engagement as more
from tests.support.lms_http import NOW, admin, bearer_of, data, error, json_of, lms_client
from tests.support.lms_platform_store import Tenant, checked_tenants, query_store

pytestmark = pytest.mark.clickhouse

FEBRUARY = {"startDate": "2026-02-01", "endDate": "2026-02-28"}


@pytest.fixture(scope="module")
def tenants(lms_platform: tuple[ClickHouseTarget, list[TenantPlatform]]) -> list[Tenant]:
    return checked_tenants(lms_platform[1])


@pytest_asyncio.fixture
async def http(
    lms_platform: tuple[ClickHouseTarget, list[TenantPlatform]],
) -> AsyncIterator[httpx.AsyncClient]:
    async with lms_client(lms_platform) as client:
        yield client


async def test_course_engagement_and_completion_equal_the_oracle(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    first, last = date(2026, 2, 1), date(2026, 2, 28)
    listed = 0
    for t in tenants:
        for course in t.courses[:2]:
            path = f"/api/admin/analytics/courses/{course}/engagement"
            want = json_of(more.course_engagement(t.facts, course, first, last))
            body = await data(http, path, admin(t.tenant_id), limit=500, **FEBRUARY)
            assert body["data"] == want, (t.tenant_id, course)
            assert body["pagination"]["total"] == len(want["students"]) > 0
            listed += len(want["students"])
            one = want["students"][-1]
            body = await data(http, path, admin(t.tenant_id), studentId=one["user_id"], **FEBRUARY)
            assert body["data"] == {**want, "students": [one]}
            outsider = next(
                i for k, i in t.people if k == "student" and i not in {s["user_id"] for s in want["students"]}
            )
            await error(http, path, admin(t.tenant_id), 404, studentId=outsider, **FEBRUARY)

            path = f"/api/admin/analytics/courses/{course}/completion"
            spans = [
                (date(2025, 12, 15), date(2025, 12, 31)),
                (date(2026, 1, 1), date(2026, 1, 31)),
                (date(2026, 2, 1), date(2026, 2, 28)),
                (date(2026, 3, 1), date(2026, 3, 10)),
            ]
            body = await data(
                http,
                path,
                admin(t.tenant_id),
                startDate="2025-12-15",
                endDate="2026-03-10",
                groupBy="MONTHLY",
            )
            want = json_of(
                more.course_completion(
                    t.facts, course, date(2025, 12, 15), date(2026, 3, 10), "MONTHLY", spans
                )
            )
            assert body["data"] == want, (t.tenant_id, course)
            assert want["completed_enrollments"] and want["total_enrollments"] > want["completed_enrollments"]

            # ISO weeks (the default) across Chicago's change to daylight time, clipped to the range
            weeks = [
                (date(2026, 3, 4), date(2026, 3, 8)),
                (date(2026, 3, 9), date(2026, 3, 15)),
                (date(2026, 3, 16), date(2026, 3, 17)),
            ]
            body = await data(http, path, admin(t.tenant_id), startDate="2026-03-04", endDate="2026-03-17")
            want = more.course_completion(
                t.facts, course, date(2026, 3, 4), date(2026, 3, 17), "WEEKLY", weeks
            )
            assert body["data"] == json_of(want), (t.tenant_id, course)
    assert listed >= 30


def role_read_first(t: Tenant, ident: int) -> str:
    """The role an admin's ``users/{userId}/engagement`` reads: student, then teacher, then admin."""
    kinds = {key[1] for key in t.facts.versions if key[0] == "user" and key[2] == str(ident)}
    for events in t.facts.by_day.values():
        kinds.update(a.person.split(":")[0] for a in events if a.person.split(":")[1] == str(ident))
    return min(kinds, key=["student", "teacher", "admin"].index)


async def test_user_and_own_engagement_equal_the_oracle(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    first, last = date(2026, 2, 1), date(2026, 2, 28)
    active = 0
    for t in tenants:
        people = [p for p in t.people if p[0] == "teacher"][:1] + [p for p in t.people if p[0] == "student"][
            :3
        ]
        for _, ident in people:
            person = f"{role_read_first(t, ident)}:{ident}"
            want = more.user_engagement(t.facts, person, first, last)
            path = f"/api/admin/analytics/users/{ident}/engagement"
            assert (await data(http, path, admin(t.tenant_id), **FEBRUARY))["data"] == json_of(want), person
            active += want["active_days"]
            if want["courses"]:
                course = want["courses"][0]["course_id"]
                narrowed = more.user_engagement(t.facts, person, first, last, course)
                body = await data(http, path, admin(t.tenant_id), courseId=course, **FEBRUARY)
                assert body["data"] == json_of(narrowed), (person, course)
            if person.startswith("student:"):
                body = await data(
                    http,
                    "/api/student/analytics/engagement",
                    bearer_of(str(ident), t.tenant_id, "student"),
                    **FEBRUARY,
                )
                assert body["data"] == json_of(want), person
        await error(http, "/api/admin/analytics/users/999999/engagement", admin(t.tenant_id), 404)
    assert active > 0


def own_performance(t: Tenant, student: int, course: int | None, kind: str | None) -> list[dict[str, Any]]:
    person = f"student:{student}"
    mine = [
        a
        for a in t.facts.attempts
        if a.person == person and course in (None, a.course) and kind in (None, a.kind)
    ]
    if not mine:
        return []
    today = NOW.astimezone(t.zone).date()
    first = min(a.started for a in mine)
    found = oracle.assessment_analytics(t.facts, {a.assessment for a in mine}, first, today, person)
    return [found[a] for a in sorted(found)]


async def test_students_own_performance_equals_the_oracle(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    attempts = 0
    for t in tenants:
        for ident in [i for k, i in t.people if k == "student"][:4]:
            headers = bearer_of(str(ident), t.tenant_id, "student")
            want = own_performance(t, ident, None, None)
            body = await data(http, "/api/student/analytics/performance", headers)
            assert body["data"] == json_of(want), (t.tenant_id, ident)
            attempts += sum(w["total_attempts"] for w in want)
            if want:
                course = want[0]["course_id"]
                for kind in ("quiz", "assignment"):
                    body = await data(
                        http,
                        "/api/student/analytics/performance",
                        headers,
                        courseId=course,
                        assessmentType=kind,
                    )
                    assert body["data"] == json_of(own_performance(t, ident, course, kind)), (ident, kind)
    assert attempts > 0


async def test_system_and_institute_performance_equal_the_oracle(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    first, last = date(2026, 2, 1), date(2026, 2, 28)
    for t in tenants:
        for metric in ("error_rate", "system_uptime", "average_latency_ms"):
            body = await data(
                http, "/api/admin/analytics/system/performance", admin(t.tenant_id), metric=metric, **FEBRUARY
            )
            want = json_of(more.system_performance(t.facts, first, last, metric))
            assert body["data"] == want, (t.tenant_id, metric)
            assert want["requests"] and len(want["trend"]) == 28
        body = await data(  # across Chicago's change to daylight time
            http,
            "/api/admin/analytics/system/performance",
            admin(t.tenant_id),
            startDate="2026-03-06",
            endDate="2026-03-10",
            metric="requests",
        )
        assert body["data"] == json_of(
            more.system_performance(t.facts, date(2026, 3, 6), date(2026, 3, 10), "requests")
        )

        institutes = more.institutes(t.facts)
        assert len(institutes) >= 2
        figures = {i: json_of(more.institute_figures(t.facts, i, first, last)) for i in institutes}
        assert all(f["total_users"] and f["total_enrollments"] for f in figures.values()), figures
        for institute in institutes:
            path = f"/api/admin/analytics/institutes/{institute}/performance"
            body = await data(http, path, admin(t.tenant_id), **FEBRUARY)
            assert body["data"] == {
                "tenant_id": t.tenant_id,
                "period_start": "2026-02-01",
                "period_end": "2026-02-28",
                "institute": figures[institute],
                "comparison": None,
            }, (t.tenant_id, institute)
        body = await data(
            http,
            f"/api/admin/analytics/institutes/{institutes[0]}/performance",
            admin(t.tenant_id),
            includeComparison="true",
            **FEBRUARY,
        )
        assert body["data"]["comparison"] == [figures[i] for i in institutes]
        await error(http, "/api/admin/analytics/institutes/999999/performance", admin(t.tenant_id), 404)


async def test_an_institute_without_courses_in_the_catalog_still_gets_its_people(
    lms_platform: tuple[ClickHouseTarget, list[TenantPlatform]], tenants: list[Tenant]
) -> None:
    """The people figures are a side part of the courses' facts statement: with no course to read, the
    statement is that part alone, and the course figures are empty."""
    first, last = date(2026, 2, 1), date(2026, 2, 28)
    store = query_store(lms_platform)
    try:
        t = tenants[0]
        institutes = more.institutes(t.facts)
        period = LmsPeriod(t.tenant_id, t.zone, first, last)
        found = await institute_performance(store, period, institutes, {})
        for institute in institutes:
            want = more.institute_figures(t.facts, institute, first, last)
            got = found[institute]
            people = ("total_users", "active_users", "total_sessions", "average_session_duration")
            assert {k: getattr(got, k) for k in people} == {k: want[k] for k in people}, institute
            assert want["total_users"] and want["total_sessions"]
            assert (got.total_courses, got.total_enrollments, got.active_students) == (0, 0, 0)
    finally:
        await store.close()
