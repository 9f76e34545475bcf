"""The learning platform API (issue 19) over HTTP, against the independent oracle of
``tests/support/lms_oracle.py``: the generated platform of the models' oracle test (stored once per session,
``tests/support/lms_platform_store.py``: three tenants in three zones, one with a DST change in the term) is
read through the routes of the query API with each tenant's own credentials; every figure of every answer
must equal the plain-Python recomputation from the request bodies, for several ranges and granularities.
The seed's envelopes, error codes and access rules are checked on the same routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio

from loadgen.lms_platform import TenantPlatform
from query_api.main import create_app
from query_api.settings import QuerySettings
from tests.conftest import ClickHouseTarget
from tests.support import lms_oracle as oracle
from tests.support.auth import token
from tests.support.lms_platform_store import Tenant, checked_tenants

pytestmark = pytest.mark.clickhouse

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
"""After the generated term (2025-12-01 .. 2026-03-15)."""
COURSES_PER_TENANT = 3


def json_of(value: Any) -> Any:
    """An oracle value as JSON carries it: decimals as numbers, dates as ``YYYY-MM-DD``."""
    if isinstance(value, dict):
        return {k: json_of(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_of(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


@pytest.fixture(scope="module")
def tenants(lms_platform: tuple[ClickHouseTarget, list[TenantPlatform]]) -> list[Tenant]:
    return checked_tenants(lms_platform[1])


@pytest_asyncio.fixture
async def http(
    lms_platform: tuple[ClickHouseTarget, list[TenantPlatform]],
) -> AsyncIterator[httpx.AsyncClient]:
    target, platforms = lms_platform
    settings = QuerySettings(
        clickhouse_url=target.url,
        clickhouse_database=target.database,
        tenant_timezones={p.tenant_id: p.time_zone for p in platforms},
        query_cache_ttl_s=0,
    )
    app = create_app(settings, clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://query") as client:
        yield client
    await app.state.query_store.close()


def admin(tenant: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token('lms-admin', tenant, ('admin',))}"}


async def data(http: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = await http.get(path, params=params, headers=headers)
    assert response.status_code == 200, (path, params, response.text[:2000])
    body = response.json()
    assert body["statusCode"] == 200 and body["message"] == "OK"
    assert body["correlationId"] == response.headers["x-request-id"]
    return body


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


async def test_daily_and_weekly_course_metrics_equal_the_oracle(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    compared = 0
    for t in tenants:
        for course in t.courses[:COURSES_PER_TENANT]:
            path = f"/api/admin/analytics/courses/{course}"
            first, last = date(2026, 2, 25), date(2026, 3, 12)  # a month end and the DST change
            body = await data(
                http, f"{path}/daily-metrics", admin(t.tenant_id), startDate=str(first), endDate=str(last)
            )
            want = [oracle.daily_course_metrics(t.facts, [course], day)[course] for day in days(first, last)]
            assert body["data"] == json_of(want), (t.tenant_id, course)
            assert body["pagination"] == {"page": 1, "limit": 50, "total": len(want), "totalPages": 1}
            compared += len(want)

            # weeks overlapping the range, paged two at a time: the second page holds the last two
            body = await data(
                http,
                f"{path}/weekly-metrics",
                admin(t.tenant_id),
                startDate="2025-12-20",
                endDate="2026-01-10",
                page=2,
                limit=2,
            )
            mondays = [date(2025, 12, 29), date(2026, 1, 5)]
            want = [oracle.weekly_course_metrics(t.facts, [course], monday)[course] for monday in mondays]
            assert body["data"] == json_of(want), (t.tenant_id, course)
            assert body["pagination"] == {"page": 2, "limit": 2, "total": 4, "totalPages": 2}
            compared += len(want)
    assert compared >= len(tenants) * COURSES_PER_TENANT * 18


async def test_course_performance_equals_the_oracle_per_granularity(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    first, last = date(2025, 12, 20), date(2026, 2, 10)
    buckets = {
        "MONTHLY": [
            (date(2025, 12, 20), date(2025, 12, 31)),
            (date(2026, 1, 1), date(2026, 1, 31)),
            (date(2026, 2, 1), date(2026, 2, 10)),
        ],
        "QUARTERLY": [(date(2025, 12, 20), date(2025, 12, 31)), (date(2026, 1, 1), date(2026, 2, 10))],
        "YEARLY": [(date(2025, 12, 20), date(2025, 12, 31)), (date(2026, 1, 1), date(2026, 2, 10))],
    }
    for t in tenants:
        course = t.courses[0]
        for granularity, spans in buckets.items():
            body = await data(
                http,
                f"/api/admin/analytics/courses/{course}/performance",
                admin(t.tenant_id),
                startDate=str(first),
                endDate=str(last),
                granularity=granularity,
            )
            want = {
                "course_id": course,
                "granularity": granularity,
                "summary": oracle.course_analytics(t.facts, [course], first, last)[course],
                "series": [oracle.course_analytics(t.facts, [course], a, b)[course] for a, b in spans],
            }
            assert body["data"] == json_of(want), (t.tenant_id, granularity)


async def test_course_assessments_equal_the_oracle(http: httpx.AsyncClient, tenants: list[Tenant]) -> None:
    first, last = date(2026, 1, 1), date(2026, 3, 15)
    compared = 0
    for t in tenants:
        catalog = t.facts.courses()
        for course in t.courses[:COURSES_PER_TENANT]:
            listed = catalog.get(course, {}).get("assessments", [])
            for kind in ("quiz", "assignment"):
                ids = sorted(int(a["assessment_id"]) for a in listed if a["assessment_type"] == kind)
                body = await data(
                    http,
                    f"/api/admin/analytics/courses/{course}/assessments",
                    admin(t.tenant_id),
                    period="CUSTOM",
                    startDate=str(first),
                    endDate=str(last),
                    assessmentType=kind,
                )
                want = oracle.assessment_analytics(t.facts, ids, first, last)
                assert body["data"] == json_of([want[a] for a in ids if a in want]), (
                    t.tenant_id,
                    course,
                    kind,
                )
                compared += len(body["data"])
    assert compared >= len(tenants) * COURSES_PER_TENANT


async def error(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], status: int, **params: Any
) -> Any:
    response = await http.get(path, params=params, headers=headers)
    assert response.status_code == status, response.text[:1000]
    body = response.json()
    assert set(body) == {"statusCode", "message", "errorCode", "details", "correlationId"}, body
    assert body["statusCode"] == status and body["correlationId"] == response.headers["x-request-id"]
    return body


async def test_errors_and_refusals_answer_in_the_seed_envelope(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    t = tenants[0]
    course = t.courses[0]
    path = f"/api/admin/analytics/courses/{course}/daily-metrics"
    body = await error(http, path, admin(t.tenant_id), 400, startDate="2026-02-10", endDate="2026-02-01")
    assert body["errorCode"] == "INVALID_DATE_RANGE" and list(body["details"]) == ["endDate"]
    body = await error(http, path, admin(t.tenant_id), 400, startDate="2026-02-30")
    assert body["errorCode"] == "ANALYTICS_VALIDATION_ERROR" and "startDate" in body["details"]
    body = await error(
        http,
        f"/api/admin/analytics/courses/{course}/performance",
        admin(t.tenant_id),
        400,
        granularity="DECADE",
    )
    assert body["errorCode"] == "ANALYTICS_VALIDATION_ERROR" and "granularity" in body["details"]
    body = await error(http, "/api/admin/analytics/courses/999999/daily-metrics", admin(t.tenant_id), 404)
    assert body["errorCode"] == "ANALYTICS_DATA_NOT_AVAILABLE"
    body = await error(http, path, {}, 401)
    assert body["errorCode"] == "UNAUTHORIZED"
    teacher = {"authorization": f"Bearer {token('4', t.tenant_id, ('teacher',))}"}
    body = await error(http, path, teacher, 403)
    assert body["errorCode"] == "FORBIDDEN"
    # another tenant's admin sees none of this tenant's courses (ids are per tenant: take one only it has)
    own, other, alone = next(
        (a, b, c) for a in tenants for b in tenants for c in a.courses if a is not b and c not in b.courses
    )
    await error(http, f"/api/admin/analytics/courses/{alone}/daily-metrics", admin(other.tenant_id), 404)
    await data(http, f"/api/admin/analytics/courses/{alone}/daily-metrics", admin(own.tenant_id))
    # the product routes keep their own envelope
    response = await http.get("/analytics/events", headers={})
    assert response.status_code == 401 and response.json()["success"] is False


def bearer_of(sub: str, tenant: str, role: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token(sub, tenant, (role,))}"}


def roles_of(t: Tenant, ident: int) -> list[str]:
    """Every role the tenant knows person ``ident`` under: a user document, or activity as that role."""
    kinds = {key[1] for key in t.facts.versions if key[0] == "user" and key[2] == str(ident)}
    for events in t.facts.by_day.values():
        kinds.update(a.person.split(":")[0] for a in events if a.person.split(":")[1] == str(ident))
    return sorted(kinds)


async def test_monthly_user_metrics_and_system_figures_equal_the_oracle(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    for t in tenants:
        teacher = next(p for p in t.people if p[0] == "teacher")
        student = next(p for p in t.people if p[0] == "student")
        for kind, ident in (teacher, student):
            path = f"/api/admin/analytics/users/{ident}/monthly-metrics"
            roles = roles_of(t, ident)
            body = await data(http, path, admin(t.tenant_id), year=2026)
            want = [
                oracle.monthly_user_metrics(t.facts, [(role, ident)], 2026, month)[(role, ident)]
                for month in (1, 2, 3)
                for role in roles
            ]
            assert body["data"] == json_of(want), (t.tenant_id, kind, ident)
            body = await data(http, path, admin(t.tenant_id), year=2025, month=12)
            want = [
                oracle.monthly_user_metrics(t.facts, [(role, ident)], 2025, 12)[(role, ident)]
                for role in roles
            ]
            assert body["data"] == json_of(want), (t.tenant_id, kind, ident)

        body = await data(
            http,
            "/api/admin/analytics/system/usage",
            admin(t.tenant_id),
            startDate="2025-12-01",
            endDate="2026-03-15",
            granularity="MONTHLY",
        )
        spans = [
            (date(2025, 12, 1), date(2025, 12, 31)),
            (date(2026, 1, 1), date(2026, 1, 31)),
            (date(2026, 2, 1), date(2026, 2, 28)),
            (date(2026, 3, 1), date(2026, 3, 15)),
        ]
        assert body["data"] == json_of([oracle.system_metrics(t.facts, a, b) for a, b in spans]), t.tenant_id
        body = await data(
            http,
            "/api/admin/analytics/system/storage",
            admin(t.tenant_id),
            period="CUSTOM",
            startDate="2026-02-01",
            endDate="2026-02-28",
        )
        assert body["data"] == json_of(oracle.system_metrics(t.facts, date(2026, 2, 1), date(2026, 2, 28)))


def taught(t: Tenant) -> tuple[int, int, list[int]]:
    """A teacher, a course they teach now, and the courses they do not teach."""
    catalog = {c: b for c, b in t.facts.courses().items() if not b.get("is_deleted") and b.get("teacher_ids")}
    course = min(catalog)
    teacher = int(catalog[course]["teacher_ids"][0])
    others = [c for c, b in catalog.items() if teacher not in b["teacher_ids"]]
    return teacher, course, others


async def test_teacher_reads_equal_the_oracle_for_their_courses_only(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    first, last = date(2026, 1, 1), date(2026, 3, 15)
    dates = {"period": "CUSTOM", "startDate": str(first), "endDate": str(last)}
    for t in tenants:
        teacher, course, others = taught(t)
        headers = bearer_of(str(teacher), t.tenant_id, "teacher")
        listed = t.facts.courses()[course].get("assessments", [])
        for item in listed:
            kind, ident = item["assessment_type"], int(item["assessment_id"])
            route = "quizzes" if kind == "quiz" else "assignments"
            body = await data(http, f"/api/teacher/analytics/{route}/{ident}", headers, **dates)
            want = oracle.assessment_analytics(t.facts, [ident], first, last)[ident]
            assert body["data"] == json_of(want), (t.tenant_id, kind, ident)
            wrong = "assignments" if kind == "quiz" else "quizzes"
            assert (await error(http, f"/api/teacher/analytics/{wrong}/{ident}", headers, 403))[
                "errorCode"
            ] == "FORBIDDEN"

        want_sessions = [
            row
            for rows in sorted(oracle.video_watch_rows(t.facts, None, first, last, course=course).items())
            for row in rows[1]
        ]
        path = f"/api/teacher/analytics/courses/{course}/video-analytics"
        got: list[Any] = []
        page = 1
        while True:  # every page, 500 at a time
            body = await data(http, path, headers, limit=500, page=page, **dates)
            got.extend(body["data"])
            assert body["pagination"]["total"] == len(want_sessions) > 0
            if page == body["pagination"]["totalPages"]:
                break
            page += 1
        assert got == [jsonish_session(r) for r in want_sessions], (t.tenant_id, course)

        for other in others[:2]:
            body = await error(http, f"/api/teacher/analytics/courses/{other}/video-analytics", headers, 403)
            assert body["errorCode"] == "FORBIDDEN"
        await error(
            http,
            f"/api/teacher/analytics/courses/{course}/video-analytics",
            bearer_of(str(teacher), t.tenant_id, "student"),
            403,
        )
        await error(http, f"/api/admin/analytics/courses/{course}/daily-metrics", headers, 403)


def jsonish_session(row: dict[str, Any]) -> dict[str, Any]:
    out = json_of(row)
    for name in ("start_time", "end_time"):
        if row[name] is not None:
            out[name] = row[name].isoformat().replace("+00:00", "Z")
    return out


async def test_students_read_their_own_video_history(http: httpx.AsyncClient, tenants: list[Tenant]) -> None:
    first, last = date(2025, 12, 1), date(2026, 3, 15)
    for t in tenants:
        for ident in t.video_students[:3]:
            headers = bearer_of(str(ident), t.tenant_id, "student")
            want = oracle.video_watch_rows(t.facts, [ident], first, last)[ident]
            body = await data(
                http,
                "/api/student/analytics/video-history",
                headers,
                startDate=str(first),
                endDate=str(last),
                limit=500,
            )
            assert body["data"] == [jsonish_session(r) for r in want], (t.tenant_id, ident)
        await error(
            http,
            "/api/student/analytics/video-history",
            bearer_of("not-a-number", t.tenant_id, "student"),
            403,
        )
        await error(http, "/api/student/analytics/video-history", admin(t.tenant_id), 403)
