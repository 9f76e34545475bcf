"""The learning platform API (issue 19) over HTTP, against the independent oracle of
``tests/support/lms_oracle.py``: the generated platform of the models' oracle test (stored once per session,
``tests/support/lms_platform_store.py``: three tenants in three zones, one with a DST change in the term) is
read through the routes of the query API with each tenant's own credentials; every figure of every answer
must equal the plain-Python recomputation from the request bodies, for several ranges and granularities.
The seed's envelopes, error codes and access rules are checked on the same routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
import pytest_asyncio

from loadgen.lms_platform import TenantPlatform
from tests.conftest import ClickHouseTarget
from tests.support import lms_oracle as oracle
from tests.support.auth import token
from tests.support.lms_http import admin, bearer_of, data, days, error, json_of, lms_client
from tests.support.lms_platform_store import Tenant, checked_tenants

pytestmark = pytest.mark.clickhouse

COURSES_PER_TENANT = 3


@pytest.fixture(scope="module")
def tenants(lms_platform: tuple[ClickHouseTarget, list[TenantPlatform]]) -> list[Tenant]:
    return checked_tenants(lms_platform[1])


@pytest_asyncio.fixture
async def http(
    lms_platform: tuple[ClickHouseTarget, list[TenantPlatform]],
) -> AsyncIterator[httpx.AsyncClient]:
    async with lms_client(lms_platform) as client:
        yield client


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
            "/api/admin/analytics/system/traffic",
            admin(t.tenant_id),
            startDate="2025-12-01",
            endDate="2026-03-15",
            granularity="MONTHLY",
        )
        want_traffic = [oracle.traffic_analytics(t.facts, a, b) for a, b in spans]
        assert body["data"] == json_of(want_traffic), t.tenant_id
        assert all(w["requests"] and w["requests_by_country"] for w in want_traffic)
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
        body = await data(http, path, headers, limit=7, page=2, **dates)  # a page cut in the statement
        assert body["data"] == got[7:14] and body["pagination"]["total"] == len(got)
        body = await data(
            http, path, headers, limit=500, page=99, **dates
        )  # past the end: none, still counted
        assert body["data"] == [] and body["pagination"]["total"] == len(got)

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


async def test_course_videos_and_comparison_equal_the_oracle(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    first, last = date(2026, 2, 20), date(2026, 3, 10)
    dates = {"startDate": str(first), "endDate": str(last)}
    compared = 0
    for t in tenants:
        for course in t.courses[:COURSES_PER_TENANT]:
            want = oracle.video_analytics(t.facts, course, first, last)
            path = f"/api/admin/analytics/courses/{course}/videos"
            body = await data(http, path, admin(t.tenant_id), **dates)
            assert body["data"] == json_of(want), (t.tenant_id, course)
            compared += len(want)
            if want:
                one = want[-1]["video_id"]
                body = await data(http, path, admin(t.tenant_id), videoId=one, **dates)
                assert body["data"] == json_of([want[-1]])

        courses = t.courses[:4]
        figures = oracle.course_analytics(t.facts, courses, first, last)
        ranked = sorted(
            figures.values(), key=lambda c: (-c["active_students"], -c["engagement_score"], c["course_id"])
        )
        body = await data(
            http,
            "/api/admin/analytics/courses/compare",
            admin(t.tenant_id),
            courseIds=",".join(str(c) for c in [*courses, courses[0]]),
            metrics="active_students,engagement_score",
            **dates,
        )
        assert body["data"] == json_of(ranked), t.tenant_id
        await error(
            http,
            "/api/admin/analytics/courses/compare",
            admin(t.tenant_id),
            404,
            courseIds=f"{courses[0]},999999",
            metrics="active_students",
        )
        await error(
            http,
            "/api/admin/analytics/courses/compare",
            admin(t.tenant_id),
            400,
            courseIds=str(courses[0]),
            metrics="active_students",
        )
    assert compared >= 5


async def test_progress_of_students_for_admins_teachers_and_themselves(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    for t in tenants:
        students = [ident for kind, ident in t.people if kind == "student"][:4]
        for ident in students:
            want = json_of(oracle.user_progress(t.facts, ident))
            body = await data(http, f"/api/admin/analytics/users/{ident}/progress", admin(t.tenant_id))
            assert body["data"] == want, (t.tenant_id, ident)
            body = await data(
                http, "/api/student/analytics/progress", bearer_of(str(ident), t.tenant_id, "student")
            )
            assert body["data"] == want, (t.tenant_id, ident)
        assert any(oracle.user_progress(t.facts, s)["courses"] for s in students)

        teacher, course, _ = taught(t)
        headers = bearer_of(str(teacher), t.tenant_id, "teacher")
        enrolled = sorted(int(key[1]) for key in t.facts.current["enrollment"] if key[2] == str(course))
        path = f"/api/teacher/analytics/courses/{course}/students"
        body = await data(http, path, headers, includeDetails="true", limit=500)
        want = [json_of(oracle.user_progress(t.facts, s, course)) for s in enrolled]
        assert body["data"] == want and body["pagination"]["total"] == len(enrolled) > 0, t.tenant_id
        body = await data(http, path, headers, studentId=enrolled[0])
        assert body["data"] == [{**want[0], "courses": []}]
        outsider = next(ident for kind, ident in t.people if kind == "student" and ident not in enrolled)
        assert (await error(http, path, headers, 404, studentId=outsider))["errorCode"] == (
            "ANALYTICS_DATA_NOT_AVAILABLE"
        )


async def test_students_study_time_per_week_equals_the_oracle(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    first, last = date(2026, 2, 25), date(2026, 3, 12)
    weeks = [
        (date(2026, 2, 25), date(2026, 3, 1)),
        (date(2026, 3, 2), date(2026, 3, 8)),
        (date(2026, 3, 9), date(2026, 3, 12)),
    ]
    for t in tenants:
        for ident in [ident for kind, ident in t.people if kind == "student"][:3]:
            body = await data(
                http,
                "/api/student/analytics/study-time",
                bearer_of(str(ident), t.tenant_id, "student"),
                startDate=str(first),
                endDate=str(last),
            )
            want = [
                oracle.user_analytics(t.facts, [("student", ident)], a, b)[("student", ident)]
                for a, b in weeks
            ]
            assert body["data"] == json_of(want), (t.tenant_id, ident)


async def test_activity_heatmap_equals_the_oracle_in_each_zone(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    first, last = date(2026, 3, 2), date(2026, 3, 15)  # across Chicago's change to daylight time
    for t in tenants:
        counts = oracle.events_by_hour_of_week(t.facts, first, last)
        path = "/api/admin/analytics/users/activity-heatmap"
        body = await data(http, path, admin(t.tenant_id), startDate=str(first), endDate=str(last))
        cells = body["data"]["cells"]
        assert [(c["weekday"], c["hour"]) for c in cells] == [(d, h) for d in range(1, 8) for h in range(24)]
        assert [c["events"] for c in cells] == counts and body["data"]["total_events"] == sum(counts) > 0
        body = await data(
            http, path, admin(t.tenant_id), startDate=str(first), endDate=str(last), granularity="DAILY"
        )
        assert [c["events"] for c in body["data"]["cells"]] == [
            sum(counts[d * 24 : d * 24 + 24]) for d in range(7)
        ]


def tenants_in(value: Any) -> set[str]:
    """Every ``tenant_id`` anywhere in an answer."""
    if isinstance(value, dict):
        found = {str(value["tenant_id"])} if "tenant_id" in value else set()
        return found.union(*(tenants_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(tenants_in(v) for v in value))
    return set()


def lms_routes(app_openapi: dict[str, Any]) -> list[str]:
    return sorted(
        path for path, ops in app_openapi["paths"].items() if path.startswith("/api/") and "get" in ops
    )


def filled(path: str, ids: dict[str, int]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", str(value))
    assert "{" not in path, path
    return path


async def test_every_lms_route_refuses_other_roles_tenants_courses_and_people(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    """Role × route × own/other, over every ``/api/`` read the document lists: students, teachers of other
    courses and admins of other tenants get a refusal in the seed's envelope (403, or 404 for another
    tenant's admin: the entity is not theirs) and no data; no credential, a malformed token, basic auth and
    an unknown API key get 401 (``WWW-Authenticate: Bearer``)."""
    t, other = tenants[0], tenants[1]
    teacher, course, others = taught(t)
    student = next(ident for kind, ident in t.people if kind == "student")
    catalog = t.facts.courses()
    assessment = {
        a["assessment_type"]: int(a["assessment_id"]) for a in catalog[course].get("assessments", [])
    }
    foreign = {  # ids that exist in this tenant but not in the other
        "courseId": next(c for c in t.courses if c not in other.courses),
        "userId": next(ident for kind, ident in t.people if kind == "student" and not roles_of(other, ident)),
        "assignmentId": assessment["assignment"],
        "quizId": assessment["quiz"],
        # institute ids repeat across tenants: the other tenant's admin then reads its own (checked below)
        "instituteId": int(catalog[course]["institute_id"]),
    }
    # configuration rows of this tenant (ADR 0017): another tenant's admin must not find them
    widget = await http.post(
        "/api/admin/analytics/dashboard/widgets",
        json={
            "widget_name": "w",
            "widget_type": "CHART",
            "position_x": 0,
            "position_y": 0,
            "width": 1,
            "height": 1,
            "widget_config": {},
            "data_source": "course_activity.views",
        },
        headers=admin(t.tenant_id),
    )
    metric = await http.post(
        "/api/admin/analytics/custom-metrics",
        json={
            "metric_name": f"views-{t.tenant_id}",
            "metric_type": "SUM",
            "calculation_config": {"measure": "course_activity.views"},
        },
        headers=admin(t.tenant_id),
    )
    assert widget.status_code == metric.status_code == 201, (widget.text, metric.text)
    foreign["widgetId"] = widget.json()["data"]["widget_id"]
    foreign["metricId"] = metric.json()["data"]["metric_id"]
    board = await http.post(
        "/api/admin/analytics/dashboards",
        json={"dashboard_name": f"d-{t.tenant_id}"},
        headers=admin(t.tenant_id),
    )
    snapshot = await http.post(
        "/api/admin/analytics/snapshots",
        json={
            "snapshot_name": "s",
            "snapshot_type": "daily",
            "sources": {"custom_metrics": [foreign["metricId"]]},
        },
        headers=admin(t.tenant_id),
    )
    report = await http.post(
        "/api/admin/reports",
        json={"report_name": "r", "report_type": "SYSTEM_USAGE", "report_config": {}},
        headers=admin(t.tenant_id),
    )
    assert board.status_code == snapshot.status_code == report.status_code == 201, (board.text, report.text)
    foreign["dashboardId"] = board.json()["data"]["dashboard_id"]
    foreign["snapshotId"] = snapshot.json()["data"]["snapshot_id"]
    foreign["reportId"] = report.json()["data"]["report_id"]
    export = await http.post(
        "/api/admin/analytics/export",
        json={"dataType": "system_usage", "format": "JSON"},
        headers=admin(t.tenant_id),
    )
    assert export.status_code == 200, export.text
    foreign["exportId"] = export.json()["data"]["exportId"]
    schedule = await http.post(
        f"/api/admin/reports/{foreign['reportId']}/schedule",
        json={"schedule_name": "s", "cron_expression": "0 7 * * *", "timezone": "UTC", "recipients": []},
        headers=admin(t.tenant_id),
    )
    assert schedule.status_code == 201, schedule.text
    foreign["scheduleId"] = schedule.json()["data"]["schedule_id"]
    document = (await http.get("/openapi.json")).json()
    every = lms_routes(document)
    routes = [route for route in every if document["paths"][route]["get"].get("security")]
    assert len(routes) >= 18, routes
    # a signed link is its own credential (test_lms_reports.py): one without a valid signature is refused
    assert set(every) - set(routes) == {"/api/admin/reports/{reportId}/download"}
    unsigned = await http.get(
        filled("/api/admin/reports/{reportId}/download", foreign),
        params={"generation": 1, "expires": 4_102_444_800, "signature": "forged"},
        headers=admin(t.tenant_id),
    )
    assert unsigned.status_code == 403 and unsigned.json()["errorCode"] == "FORBIDDEN"
    values = {
        "courseIds": f"{foreign['courseId']},{foreign['courseId'] + 1}",
        "metrics": "active_students",
        "cohortBy": "SIGNUP_MONTH",
        "expires": "4102444800",
        "signature": "not-checked-before-the-caller",
    }

    def required(route: str) -> dict[str, str]:
        """Values for the query parameters the document says ``route`` requires."""
        declared = document["paths"][route]["get"].get("parameters", [])
        return {p["name"]: values[p["name"]] for p in declared if p["in"] == "query" and p.get("required")}

    checked = 0
    for route in routes:
        path = filled(route, foreign)
        anonymous: list[tuple[str, dict[str, str], set[int]]] = [
            ("no credential", {}, {401}),
            ("a token that is none", {"authorization": "Bearer nonsense"}, {401}),
            ("basic auth", {"authorization": "Basic dXNlcjpwYXNz"}, {401}),
            ("an unknown API key", {"x-api-key": "ak_k1_wrong"}, {401}),
        ]
        callers: list[tuple[str, dict[str, str], set[int]]] = [
            ("student of the tenant", bearer_of(str(student), t.tenant_id, "student"), {403}),
            ("admin of another tenant", admin(other.tenant_id), {403, 404}),
            *anonymous,
        ]
        if route.startswith("/api/admin/"):
            callers.append(("teacher of the tenant", bearer_of(str(teacher), t.tenant_id, "teacher"), {403}))
        if route.startswith("/api/teacher/"):
            path = filled(route, {**foreign, "courseId": others[0] if others else 999_999})
            if "assignmentId" in route or "quizId" in route:
                # an assessment of a course this teacher does not teach
                other_course = others[0]
                kinds = {
                    a["assessment_type"]: int(a["assessment_id"])
                    for a in catalog[other_course]["assessments"]
                }
                path = filled(route, {"assignmentId": kinds["assignment"], "quizId": kinds["quiz"]})
            callers.append(
                ("teacher of other courses", bearer_of(str(teacher), t.tenant_id, "teacher"), {403})
            )
            callers.append(("admin", admin(t.tenant_id), {403}))
        if route.startswith("/api/student/"):
            callers = [
                ("teacher", bearer_of(str(teacher), t.tenant_id, "teacher"), {403}),
                ("admin", admin(t.tenant_id), {403}),
                *anonymous,
            ]
        own_reads = "{" not in route and "compare" not in route
        if "text/event-stream" in document["paths"][route]["get"]["responses"]["200"]["content"]:
            # the push channel streams the caller's own tenant without end (read in test_lms_realtime.py)
            callers = [c for c in callers if c[0] != "admin of another tenant"]
        elif route.startswith("/api/admin/") and (own_reads or "{instituteId}" in route):
            # nothing in the path that only this tenant has: the other's admin reads its own tenant only
            callers = [c for c in callers if c[0] != "admin of another tenant"]
            response = await http.get(path, params=required(route), headers=admin(other.tenant_id))
            assert response.status_code in (200, 404), (route, response.text[:300])
            if response.status_code == 200:
                assert tenants_in(response.json()["data"]) <= {other.tenant_id}, route
        for who, headers, statuses in callers:
            response = await http.get(path, params=required(route), headers=headers)
            body = response.json()
            assert response.status_code in statuses, (route, who, response.status_code, body)
            if response.status_code == 401:
                assert response.headers["www-authenticate"].startswith("Bearer"), (route, who)
            assert "data" not in body and body["errorCode"] in (
                "FORBIDDEN",
                "UNAUTHORIZED",
                "ANALYTICS_DATA_NOT_AVAILABLE",
                "NOT_FOUND",
            )
            checked += 1
    assert checked >= len(routes) * 3


async def test_cohorts_and_retention_equal_the_oracle(http: httpx.AsyncClient, tenants: list[Tenant]) -> None:
    today = date(2026, 3, 20)
    first, last = date(2025, 12, 1), date(2026, 2, 28)
    cases: list[tuple[str, dict[str, str]]] = [
        ("SIGNUP_MONTH", {}),
        ("SIGNUP_WEEK", {"userType": "student"}),
        ("ENROLLMENT_MONTH", {}),
        ("ENROLLMENT_WEEK", {}),
    ]
    for t in tenants:
        course = t.courses[0]
        institute = str(t.facts.courses()[course].get("institute_id"))
        for by, filters in [
            *cases,
            ("ENROLLMENT_MONTH", {"courseId": str(course)}),
            ("SIGNUP_MONTH", {"instituteId": institute}),
        ]:
            params: dict[str, Any] = {"cohortBy": by, "startDate": str(first), "endDate": str(last)}
            if filters:
                params["filters"] = ",".join(f"{k}:{v}" for k, v in filters.items())
            body = await data(http, "/api/admin/analytics/users/cohort", admin(t.tenant_id), **params)
            want = oracle.cohorts(t.facts, by, first, last, today, filters)
            assert body["data"]["cohorts"] == json_of(want), (t.tenant_id, by, filters)
            assert sum(c["size"] for c in want) > 0, (t.tenant_id, by, filters)
        await error(
            http,
            "/api/admin/analytics/users/cohort",
            admin(t.tenant_id),
            400,
            cohortBy="SIGNUP_WEEK",
            filters=f"courseId:{course}",
        )

        spans = [
            (date(2026, 1, 1), date(2026, 1, 4)),
            (date(2026, 1, 5), date(2026, 1, 11)),
            (date(2026, 1, 12), date(2026, 1, 18)),
            (date(2026, 1, 19), date(2026, 1, 20)),
        ]
        for segment_by in ("NONE", "USER_TYPE", "INSTITUTE"):
            body = await data(
                http,
                "/api/admin/analytics/users/retention",
                admin(t.tenant_id),
                startDate="2026-01-01",
                endDate="2026-01-20",
                segmentBy=segment_by,
            )
            want_segments = oracle.retention(t.facts, spans, segment_by)
            assert body["data"]["segments"] == json_of(want_segments), (t.tenant_id, segment_by)
            assert any(p["retained_users"] for s in want_segments for p in s["points"])


async def test_institute_courses_and_a_teachers_course_trend_equal_the_oracle(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    first, last = date(2026, 2, 25), date(2026, 3, 12)
    dates = {"startDate": str(first), "endDate": str(last)}
    for t in tenants:
        catalog = t.facts.courses()
        for institute in sorted({int(b["institute_id"]) for b in catalog.values() if b.get("institute_id")}):
            courses = sorted(c for c, b in catalog.items() if b.get("institute_id") == institute)
            want = oracle.course_analytics(t.facts, courses, first, last)
            path = f"/api/admin/analytics/institutes/{institute}/enrollments"
            body = await data(http, path, admin(t.tenant_id), **dates)
            assert body["data"] == json_of([want[c] for c in courses]), (t.tenant_id, institute)
            body = await data(http, path, admin(t.tenant_id), courseId=courses[-1], **dates)
            assert body["data"] == json_of([want[courses[-1]]])
        await error(http, "/api/admin/analytics/institutes/999999/enrollments", admin(t.tenant_id), 404)

        teacher, course, _ = taught(t)
        body = await data(
            http,
            f"/api/teacher/analytics/courses/{course}",
            bearer_of(str(teacher), t.tenant_id, "teacher"),
            metric="active_students",
            **dates,
        )
        weeks = [(first, date(2026, 3, 1)), (date(2026, 3, 2), date(2026, 3, 8)), (date(2026, 3, 9), last)]
        want_trend = [
            {
                "period_start": a,
                "period_end": b,
                "value": oracle.course_analytics(t.facts, [course], a, b)[course]["active_students"],
            }
            for a, b in weeks
        ]
        assert body["data"] == json_of(
            {
                "course_id": course,
                "summary": oracle.course_analytics(t.facts, [course], first, last)[course],
                "metric": "active_students",
                "trend": want_trend,
            }
        ), t.tenant_id


async def test_dashboard_overview_equals_the_oracle_and_other_tenants_need_the_platform_role(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    first, last = date(2026, 2, 16), date(2026, 3, 1)
    before = (date(2026, 2, 2), date(2026, 2, 15))
    platform = {"authorization": f"Bearer {token('ops', tenants[0].tenant_id, ('admin', 'platform'))}"}
    for t in tenants:
        catalog = sorted(t.facts.courses())
        courses = oracle.course_analytics(t.facts, catalog, first, last)
        top = sorted(
            courses.values(), key=lambda c: (-c["active_students"], -c["engagement_score"], c["course_id"])
        )
        want = json_of(
            {
                "tenant_id": t.tenant_id,
                "current": oracle.system_metrics(t.facts, first, last),
                "previous": oracle.system_metrics(t.facts, *before),
                "top_courses": top[:5],
            }
        )
        dates = {"startDate": str(first), "endDate": str(last)}
        body = await data(http, "/api/admin/analytics/dashboard", admin(t.tenant_id), **dates)
        assert body["data"] == want, t.tenant_id
        body = await data(http, "/api/admin/analytics/dashboard", platform, tenantId=t.tenant_id, **dates)
        assert body["data"] == want, t.tenant_id
    other = tenants[1].tenant_id
    body = await error(
        http, "/api/admin/analytics/dashboard", admin(tenants[0].tenant_id), 403, tenantId=other
    )
    assert body["errorCode"] == "FORBIDDEN"
