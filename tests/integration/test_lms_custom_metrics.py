"""Custom metrics (ADR 0017 §6) over HTTP on the generated learning platform: each ``MetricType`` against a
plain-Python recomputation from the generated facts (not the production SQL), CRUD on SQLite and a real
PostgreSQL, and injection attempts in every field of ``calculation_config`` and ``parameters`` refused
with 422 while the statements actually sent carry user text only as bound parameters."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

import query_api.store as query_store
from tests.conftest import ClickHouseTarget
from tests.support.lms_http import bearer_of, lms_client
from tests.support.lms_oracle import Facts
from tests.support.lms_platform_store import Tenant, checked_tenants

pytestmark = pytest.mark.clickhouse

M = "/api/admin/analytics/custom-metrics"
FIRST, LAST = date(2026, 1, 5), date(2026, 2, 15)
"""Across weeks and months, partly: the engine must combine daily, weekly and monthly rows."""
RANGE = {"timeRange": {"startDate": FIRST.isoformat(), "endDate": LAST.isoformat()}}
VIEWS = ("content_viewed", "video_watched")


@pytest.fixture(scope="module")
def tenants(lms_platform: tuple[ClickHouseTarget, list[Any]]) -> list[Tenant]:
    return checked_tenants(lms_platform[1])


@pytest_asyncio.fixture
async def http(
    lms_platform: tuple[ClickHouseTarget, list[Any]], tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    async with lms_client(lms_platform, f"sqlite+aiosqlite:///{tmp_path / 'metrics.db'}") as client:
        yield client


def admin(tenant: str) -> dict[str, str]:
    return bearer_of("metrics-admin", tenant, "admin")


def days(first: date, last: date) -> Iterator[date]:
    while first <= last:
        yield first
        first += timedelta(days=1)


def course_views(facts: Facts, course: int, first: date, last: date, students_only: bool = False) -> int:
    return sum(
        1
        for a in facts.events(first, last)
        if a.course == course and a.type in VIEWS and (not students_only or a.body["user_type"] == "student")
    )


def logins(facts: Facts, first: date, last: date) -> int:
    return sum(1 for a in facts.events(first, last) if a.type == "login")


def courses_accessed(facts: Facts, first: date, last: date) -> int:
    return len({a.course for a in facts.events(first, last) if a.course})


def half_up(value: Decimal, places: str) -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


async def calculated(
    http: httpx.AsyncClient, tenant: str, metric_type: str, config: dict[str, Any], **body: Any
) -> dict[str, Any]:
    created = await http.post(
        M,
        json={
            "metric_name": f"m-{uuid.uuid4().hex[:8]}",
            "metric_type": metric_type,
            "calculation_config": config,
        },
        headers=admin(tenant),
    )
    assert created.status_code == 201, created.text
    metric = created.json()["data"]
    answer = await http.post(
        f"{M}/{metric['metric_id']}/calculate", json={**RANGE, **body}, headers=admin(tenant)
    )
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    assert (data["metric_id"], data["metric_type"], data["tenant_id"]) == (
        metric["metric_id"],
        metric_type,
        tenant,
    )
    assert (data["period_start"], data["period_end"]) == (FIRST.isoformat(), LAST.isoformat())
    return data


async def test_each_metric_type_equals_the_plain_python_recomputation(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    for tenant in tenants[:2]:
        facts = tenant.facts
        course = tenant.courses[0]
        views = course_views(facts, course, FIRST, LAST)
        assert views > 0

        by_course = {"dimension": "course_id", "operator": "eq", "value": course}
        total = await calculated(
            http, tenant.tenant_id, "SUM", {"measure": "course_activity.views", "filters": [by_course]}
        )
        assert total["value"] == views and total["points"] == []

        # COUNT of a distinct measure: exact over the whole period, not a sum of days
        count = await calculated(http, tenant.tenant_id, "COUNT", {"measure": "user_days.courses_accessed"})
        assert count["value"] == courses_accessed(facts, FIRST, LAST)

        # parameters filter a template metric at calculation time
        students = await calculated(
            http,
            tenant.tenant_id,
            "SUM",
            {"measure": "course_activity.views"},
            parameters={"course_id": course, "user_type": "student"},
        )
        assert students["value"] == course_views(facts, course, FIRST, LAST, students_only=True)
        assert students["parameters"] == {"course_id": course, "user_type": "student"}

        per_day = await calculated(http, tenant.tenant_id, "AVERAGE", {"measure": "user_days.logins"})
        span = (LAST - FIRST).days + 1
        assert Decimal(str(per_day["value"])) == half_up(Decimal(logins(facts, FIRST, LAST)) / span, "0.01")

        per_course = await calculated(
            http, tenant.tenant_id, "AVERAGE", {"measure": "course_activity.views", "per": "course_id"}
        )
        counts: dict[int, int] = defaultdict(int)
        for a in facts.events(FIRST, LAST):
            if a.course:
                counts[a.course] += a.type in VIEWS
        expected = half_up(Decimal(sum(counts.values())) / len(counts), "0.01")
        assert Decimal(str(per_course["value"])) == expected

        video = {"dimension": "course_id", "operator": "in", "value": tenant.courses[:3]}
        sessions = [
            a
            for a in facts.events(FIRST, LAST)
            if a.type == "video_watched" and a.course in tenant.courses[:3]
        ]
        completed = sum(1 for a in sessions if Decimal(str(a.body["completion_percentage"])) >= 90)
        ratio = await calculated(
            http,
            tenant.tenant_id,
            "RATIO",
            {
                "numerator": "video_views.completed_sessions",
                "denominator": "video_views.watch_sessions",
                "filters": [video],
            },
        )
        assert Decimal(str(ratio["value"])) == half_up(Decimal(completed) / len(sessions), "0.0001")
        share = await calculated(
            http,
            tenant.tenant_id,
            "PERCENTAGE",
            {
                "numerator": "video_views.completed_sessions",
                "denominator": "video_views.watch_sessions",
                "filters": [video],
            },
        )
        assert Decimal(str(share["value"])) == half_up(Decimal(100 * completed) / len(sessions), "0.01")

        trend = await calculated(
            http,
            tenant.tenant_id,
            "TREND",
            {"measure": "course_activity.views", "granularity": "WEEKLY", "filters": [by_course]},
        )
        weeks = []
        start = FIRST - timedelta(days=FIRST.weekday())
        while start <= LAST:
            first, last = max(start, FIRST), min(start + timedelta(days=6), LAST)
            weeks.append(
                {
                    "period_start": first.isoformat(),
                    "period_end": last.isoformat(),
                    "value": course_views(facts, course, first, last),
                }
            )
            start += timedelta(days=7)
        assert trend["points"] == weeks and trend["value"] == views


async def test_results_are_stored_and_custom_metrics_are_refused_when_unknown(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    tenant = tenants[0].tenant_id
    for metric_type, config, field in [
        ("SUM", {"measure": "course_activity.likes"}, "calculation_config.measure"),
        ("SUM", {"measure": "user_days.courses_accessed"}, "calculation_config.measure"),
        ("RATIO", {"measure": "course_activity.views"}, "calculation_config.measure"),
        (
            "TREND",
            {"measure": "course_activity.views", "granularity": "HOURLY"},
            "calculation_config.granularity",
        ),
        ("AVERAGE", {"measure": "course_activity.views", "per": "user_id"}, "calculation_config.per"),
        ("SUM", {"measure": "course_activity.views", "having": 1}, "calculation_config.having"),
    ]:
        response = await http.post(
            M,
            json={"metric_name": "bad", "metric_type": metric_type, "calculation_config": config},
            headers=admin(tenant),
        )
        assert response.status_code == 422, (config, response.text)
        assert response.json()["errorCode"] == "CALCULATION_ERROR"
        assert list(response.json()["details"]) == [field], (config, response.json())


INJECTIONS = [
    "course_activity.views; DROP TABLE lms_activity",
    "course_activity.views' OR '1'='1",
    "course_activity.views -- comment",
    "max(watch_seconds)",
    "views) FROM system.users --",
    "1=1",
]


@pytest.mark.parametrize("attempt", INJECTIONS)
async def test_injection_attempts_are_refused_and_user_text_is_only_ever_bound(
    http: httpx.AsyncClient, tenants: list[Tenant], attempt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = tenants[0].tenant_id
    sent: list[tuple[str, dict[str, Any]]] = []
    rows = query_store.QueryStore.rows

    async def recording(self: Any, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        sent.append((sql, dict(parameters or {})))
        return await rows(self, sql, parameters)

    monkeypatch.setattr(query_store.QueryStore, "rows", recording)
    filters = [{"dimension": "course_id", "operator": "eq", "value": 1}]
    configs: list[dict[str, Any]] = [
        {"measure": attempt},
        {
            "measure": "course_activity.views",
            "filters": [{"dimension": attempt, "operator": "eq", "value": 1}],
        },
        {
            "measure": "course_activity.views",
            "filters": [{"dimension": "course_id", "operator": attempt, "value": 1}],
        },
        {
            "measure": "course_activity.views",
            "filters": [{"dimension": "user_type", "operator": "eq", "value": [attempt]}],
        },
        {"measure": "course_activity.views", "per": attempt},
        {"measure": "course_activity.views", "filters": filters, attempt: 1},
        {"type": "TREND", "measure": "course_activity.views", "granularity": attempt},
        {"type": "RATIO", "numerator": attempt, "denominator": "course_activity.views"},
        {"type": "PERCENTAGE", "numerator": "course_activity.views", "denominator": attempt},
    ]
    for config in configs:
        metric_type = config.pop("type", "AVERAGE")
        response = await http.post(
            M,
            json={"metric_name": "x", "metric_type": metric_type, "calculation_config": config},
            headers=admin(tenant),
        )
        assert response.status_code == 422, (config, response.text)
        assert response.json()["errorCode"] == "CALCULATION_ERROR"
    # a valid metric calculated with hostile parameters: refused, or (a text value) only ever bound
    created = await http.post(
        M,
        json={
            "metric_name": f"safe-{uuid.uuid4().hex[:6]}",
            "metric_type": "SUM",
            "calculation_config": {"measure": "course_activity.views"},
        },
        headers=admin(tenant),
    )
    metric = created.json()["data"]["metric_id"]
    refused = await http.post(
        f"{M}/{metric}/calculate", json={"parameters": {attempt: 1}}, headers=admin(tenant)
    )
    assert refused.status_code == 422 and refused.json()["errorCode"] == "CALCULATION_ERROR"
    bound = await http.post(
        f"{M}/{metric}/calculate", json={**RANGE, "parameters": {"user_type": attempt}}, headers=admin(tenant)
    )
    assert bound.status_code == 200 and bound.json()["data"]["value"] == 0
    assert sent, "the calculation ran statements"
    for sql, parameters in sent:
        assert attempt not in sql
        assert any(value == attempt for value in parameters.values()) or "user_type" not in sql


async def test_custom_metric_crud_on_both_stores(
    lms_platform: tuple[ClickHouseTarget, list[Any]], config_database_url: str
) -> None:
    tenant, other = f"cm-{uuid.uuid4().hex[:8]}", f"cm-{uuid.uuid4().hex[:8]}"
    async with lms_client(lms_platform, config_database_url) as http:
        body = {
            "metric_name": "Views",
            "metric_description": "views of a course",
            "metric_type": "SUM",
            "calculation_config": {"measure": "course_activity.views"},
        }
        created = await http.post(M, json=body, headers=admin(tenant))
        assert created.status_code == 201, created.text
        metric = created.json()["data"]
        assert {k: metric[k] for k in body} == body and metric["created_by"] == "metrics-admin"
        path = f"{M}/{metric['metric_id']}"
        assert (await http.get(path, headers=admin(other))).status_code == 404
        assert (await http.get(M, headers=admin(other))).json()["data"] == []
        duplicate = await http.post(M, json=body, headers=admin(tenant))
        assert duplicate.status_code == 409
        changed = await http.patch(
            path,
            json={
                "metric_type": "TREND",
                "calculation_config": {"measure": "course_activity.views", "granularity": "MONTHLY"},
            },
            headers={**admin(tenant), "If-Match": '"1"'},
        )
        assert changed.status_code == 200 and changed.json()["data"]["version"] == 2
        stale = await http.patch(
            path, json={"metric_name": "V"}, headers={**admin(tenant), "If-Match": '"1"'}
        )
        assert stale.status_code == 412
        broken = await http.patch(path, json={"metric_type": "RATIO"}, headers=admin(tenant))
        assert broken.status_code == 422  # the resulting configuration is checked too
        result = await http.post(f"{path}/calculate", json=RANGE, headers=admin(tenant))
        assert result.status_code == 200, result.text  # a CustomMetricResult stored in this store
        assert (result.json()["data"]["value"], result.json()["data"]["calculated_by"]) == (
            0,
            "metrics-admin",
        )
        assert len(result.json()["data"]["points"]) == 2  # January and February, of a tenant without rows
        deleted = await http.delete(path, headers=admin(tenant))
        assert deleted.status_code == 200 and deleted.json()["data"] == {
            "message": f"custom metric {metric['metric_id']} deleted"
        }
        assert (await http.get(path, headers=admin(tenant))).status_code == 404
        assert (await http.post(f"{path}/calculate", json={}, headers=admin(tenant))).status_code == 404


async def test_a_custom_dashboard_shows_each_widgets_data_for_the_period(
    http: httpx.AsyncClient, tenants: list[Tenant]
) -> None:
    tenant = tenants[1]
    facts, course = tenant.facts, tenant.courses[1]
    headers = admin(tenant.tenant_id)
    board = (
        await http.post("/api/admin/analytics/dashboards", json={"dashboard_name": "Term"}, headers=headers)
    ).json()["data"]
    metric = (
        await http.post(
            M,
            json={
                "metric_name": f"logins-{uuid.uuid4().hex[:6]}",
                "metric_type": "SUM",
                "calculation_config": {"measure": "user_days.logins"},
            },
            headers=headers,
        )
    ).json()["data"]
    base = {
        "widget_type": "METRIC_CARD",
        "position_x": 0,
        "width": 2,
        "height": 2,
        "dashboard_id": board["dashboard_id"],
    }
    only_course = [{"dimension": "course_id", "operator": "eq", "value": course}]
    specs = [
        ("views", 0, "course_activity.views", {"filters": only_course, "color": "teal"}),
        ("logins", 1, f"custom_metric:{metric['metric_id']}", {}),
        ("views by month", 2, "course_activity.views", {"filters": only_course, "granularity": "MONTHLY"}),
    ]
    for name, row, source, config in specs:
        created = await http.post(
            "/api/admin/analytics/dashboard/widgets",
            json={
                **base,
                "widget_name": name,
                "position_y": row,
                "data_source": source,
                "widget_config": config,
            },
            headers=headers,
        )
        assert created.status_code == 201, created.text
    unknown = await http.post(
        "/api/admin/analytics/dashboard/widgets",
        json={
            **base,
            "widget_name": "x",
            "position_y": 9,
            "data_source": "course_activity.likes",
            "widget_config": {},
        },
        headers=headers,
    )
    assert unknown.status_code == 422 and unknown.json()["errorCode"] == "DASHBOARD_CONFIG_ERROR"
    assert list(unknown.json()["details"]) == ["data_source"]

    path = f"/api/admin/analytics/dashboard/{board['dashboard_id']}"
    window = {"startDate": FIRST.isoformat(), "endDate": LAST.isoformat()}
    shown = (await http.get(path, params=window, headers=headers)).json()["data"]
    assert (shown["dashboard_name"], shown["widget_count"], shown["period_start"]) == (
        "Term",
        3,
        FIRST.isoformat(),
    )
    views, logins_, by_month = shown["widgets"]
    assert views["data"] == {
        "metric_type": "COUNT",
        "value": course_views(facts, course, FIRST, LAST),
        "points": [],
    }
    assert views["widget_config"]["color"] == "teal" and views["error"] is None
    assert logins_["data"]["value"] == logins(facts, FIRST, LAST)
    months = [(FIRST, date(2026, 1, 31)), (date(2026, 2, 1), LAST)]
    assert by_month["data"]["points"] == [
        {
            "period_start": a.isoformat(),
            "period_end": b.isoformat(),
            "value": course_views(facts, course, a, b),
        }
        for a, b in months
    ]
    # the custom metric deleted: its widget says so, the others still show their data
    await http.delete(f"{M}/{metric['metric_id']}", headers=headers)
    again = (await http.get(path, params=window, headers=headers)).json()["data"]["widgets"]
    assert again[1]["data"] is None and again[1]["error"]["errorCode"] == "METRIC_NOT_FOUND"
    assert again[0]["data"] == views["data"] and again[2]["data"] == by_month["data"]
    assert (await http.get(path, headers=admin(tenants[0].tenant_id))).status_code == 404


async def test_snapshot_crud_on_both_stores(
    lms_platform: tuple[ClickHouseTarget, list[Any]], config_database_url: str, tenants: list[Tenant]
) -> None:
    tenant = tenants[2]
    headers, others = admin(tenant.tenant_id), admin(tenants[0].tenant_id)
    course = tenant.courses[0]
    async with lms_client(lms_platform, config_database_url) as http:
        metric = (
            await http.post(
                M,
                json={
                    "metric_name": f"views-{uuid.uuid4().hex[:6]}",
                    "metric_type": "SUM",
                    "calculation_config": {
                        "measure": "course_activity.views",
                        "filters": [{"dimension": "course_id", "value": course}],
                    },
                },
                headers=headers,
            )
        ).json()["data"]
        widget = (
            await http.post(
                "/api/admin/analytics/dashboard/widgets",
                json={
                    "widget_name": "views",
                    "widget_type": "CHART",
                    "position_x": 0,
                    "position_y": 0,
                    "width": 1,
                    "height": 1,
                    "widget_config": {
                        "granularity": "MONTHLY",
                        "filters": [{"dimension": "course_id", "value": course}],
                    },
                    "data_source": "course_activity.views",
                },
                headers=headers,
            )
        ).json()["data"]
        body = {
            "snapshot_name": "January",
            "snapshot_type": "monthly",
            "sources": {"custom_metrics": [metric["metric_id"]], "widgets": [widget["widget_id"]]},
            "timeRange": {"startDate": "2026-01-01", "endDate": "2026-01-31"},
            "metadata": {"note": "term review"},
        }
        taken = await http.post("/api/admin/analytics/snapshots", json=body, headers=headers)
        assert taken.status_code == 201, taken.text
        snapshot = taken.json()["data"]
        views = course_views(tenant.facts, course, date(2026, 1, 1), date(2026, 1, 31))
        assert snapshot["data"]["custom_metrics"][0]["value"] == views
        assert snapshot["data"]["widgets"][0]["data"]["points"] == [
            {"period_start": "2026-01-01", "period_end": "2026-01-31", "value": views}
        ]
        assert (snapshot["snapshot_type"], snapshot["metadata"], snapshot["created_by"]) == (
            "monthly",
            {"note": "term review"},
            "metrics-admin",
        )
        assert snapshot["snapshot_date"].startswith("2026-03-20")  # the app's clock
        path = f"/api/admin/analytics/snapshots/{snapshot['snapshot_id']}"
        # later changes of its sources change nothing in it
        await http.delete(f"{M}/{metric['metric_id']}", headers=headers)
        assert (await http.get(path, headers=headers)).json()["data"] == snapshot
        for params, found in [
            ({"type": "monthly"}, True),
            ({"type": "weekly"}, False),
            ({"startDate": "2026-03-20", "endDate": "2026-03-20"}, True),
            ({"endDate": "2026-03-19"}, False),
        ]:
            listed = (await http.get("/api/admin/analytics/snapshots", params=params, headers=headers)).json()
            assert (snapshot["snapshot_id"] in [s["snapshot_id"] for s in listed["data"]]) is found, params
        assert (await http.get(path, headers=others)).status_code == 404
        assert (await http.delete(path, headers=others)).status_code == 404
        missing = await http.post(
            "/api/admin/analytics/snapshots",
            json={**body, "sources": {"widgets": [widget["widget_id"]]}},
            headers=others,
        )
        assert missing.status_code == 404 and "sources.widgets" in missing.json()["details"]
        deleted = await http.delete(path, headers=headers)
        assert deleted.json()["data"] == {"message": f"snapshot {snapshot['snapshot_id']} deleted"}
        assert (await http.get(path, headers=headers)).status_code == 404
