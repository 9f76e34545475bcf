"""Custom dashboards and widgets over HTTP (ADR 0017), on SQLite and on a real PostgreSQL: create, read,
change, soft delete (404 after), tenant isolation (another tenant's admin gets 404, never the row), two
writers of one version (one wins, one 412), audit fields from the credential and the client's address,
validation naming the field, non-admins refused."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import ClickHouseTarget
from tests.support.lms_http import bearer_of, lms_client

pytestmark = pytest.mark.clickhouse

A = "/api/admin/analytics"
WIDGET = {
    "widget_name": "Active students",
    "widget_type": "METRIC_CARD",
    "position_x": 0,
    "position_y": 2,
    "width": 4,
    "height": 3,
    "widget_config": {"color": "teal", "thresholds": [10, 20]},
    "data_source": "course_activity.views",
}


@pytest.fixture
async def http(
    lms_platform: tuple[ClickHouseTarget, list[Any]], config_database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with lms_client(lms_platform, config_database_url) as client:
        yield client


def admin_of(tenant: str, subject: str = "admin-1") -> dict[str, str]:
    return bearer_of(subject, tenant, "admin")


def new_tenant() -> str:
    """Tests share the PostgreSQL database of the session: each keeps to tenants of its own."""
    return f"cfg-{uuid.uuid4().hex[:10]}"


async def created(http: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    response = await http.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    envelope = response.json()
    assert envelope["statusCode"] == 201 and envelope["message"] == "Created"
    assert response.headers["etag"] == f'"{envelope["data"]["version"]}"'
    return envelope["data"]


async def test_widget_lifecycle_with_audit_fields(http: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    before = datetime.now(UTC) - timedelta(seconds=5)
    board = await created(http, f"{A}/dashboards", {"dashboard_name": "Term overview"}, admin_of(tenant))
    widget = await created(
        http, f"{A}/dashboard/widgets", {**WIDGET, "dashboard_id": board["dashboard_id"]}, admin_of(tenant)
    )
    for field, value in WIDGET.items():
        assert widget[field] == value, field
    assert widget["dashboard_id"] == board["dashboard_id"]
    assert widget["tenant_id"] == tenant
    assert widget["created_by"] == "admin-1"
    assert widget["created_ip"] == "127.0.0.1"  # httpx's ASGI transport: the client's address
    assert widget["updated_by"] is None and widget["updated_at"] is None
    assert widget["is_active"] is True and widget["is_deleted"] is False
    assert widget["version"] == 1
    assert before <= datetime.fromisoformat(widget["created_at"]) <= datetime.now(UTC) + timedelta(seconds=5)

    path = f"{A}/dashboard/widgets/{widget['widget_id']}"
    read = await http.get(path, headers=admin_of(tenant))
    assert read.status_code == 200 and read.json()["data"] == widget
    assert read.headers["etag"] == '"1"'

    changed = await http.patch(
        path,
        json={"widget_name": "Active learners", "width": 6, "widget_config": {"color": "red"}},
        headers={**admin_of(tenant, "admin-2"), "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    data = changed.json()["data"]
    assert (data["widget_name"], data["width"], data["widget_config"]) == (
        "Active learners",
        6,
        {"color": "red"},
    )
    assert data["height"] == WIDGET["height"] and data["data_source"] == WIDGET["data_source"]
    assert data["version"] == 2 and changed.headers["etag"] == '"2"'
    assert data["updated_by"] == "admin-2" and data["updated_ip"] == "127.0.0.1"
    assert data["created_by"] == "admin-1" and data["updated_at"] is not None

    listed = await http.get(
        f"{A}/dashboard/widgets", params={"dashboardId": board["dashboard_id"]}, headers=admin_of(tenant)
    )
    assert [w["widget_id"] for w in listed.json()["data"]] == [widget["widget_id"]]
    assert listed.json()["pagination"] == {"page": 1, "limit": 50, "total": 1, "totalPages": 1}

    deleted = await http.delete(path, headers=admin_of(tenant))
    assert deleted.status_code == 200 and deleted.json()["data"]["is_deleted"] is True
    gone = await http.get(path, headers=admin_of(tenant))
    assert gone.status_code == 404 and gone.json()["errorCode"] == "NOT_FOUND"
    again = await http.patch(path, json={"width": 2}, headers=admin_of(tenant))
    assert again.status_code == 404
    listed = await http.get(f"{A}/dashboard/widgets", headers=admin_of(tenant))
    assert listed.json()["data"] == [] and listed.json()["pagination"]["total"] == 0


async def test_another_tenants_admin_never_sees_the_row(http: httpx.AsyncClient) -> None:
    mine, theirs = new_tenant(), new_tenant()
    board = await created(http, f"{A}/dashboards", {"dashboard_name": "Mine"}, admin_of(mine))
    widget = await created(http, f"{A}/dashboard/widgets", WIDGET, admin_of(mine))
    path = f"{A}/dashboard/widgets/{widget['widget_id']}"
    for method, url, body in [
        ("GET", path, None),
        ("PATCH", path, {"width": 9}),
        ("DELETE", path, None),
        ("PATCH", f"{A}/dashboards/{board['dashboard_id']}", {"dashboard_name": "Theirs now"}),
        ("DELETE", f"{A}/dashboards/{board['dashboard_id']}", None),
    ]:
        response = await http.request(method, url, json=body, headers=admin_of(theirs))
        assert response.status_code == 404, (method, url, response.text)
        assert "Mine" not in response.text and str(WIDGET["widget_config"]) not in response.text
    # their widget cannot be put on my dashboard either
    refused = await http.post(
        f"{A}/dashboard/widgets",
        json={**WIDGET, "dashboard_id": board["dashboard_id"]},
        headers=admin_of(theirs),
    )
    assert refused.status_code == 404 and refused.json()["errorCode"] == "DASHBOARD_CONFIG_ERROR"
    assert refused.json()["details"] == {
        "dashboard_id": [f"no dashboard {board['dashboard_id']} in this tenant"]
    }
    for listing in (f"{A}/dashboards", f"{A}/dashboard/widgets"):
        assert (await http.get(listing, headers=admin_of(theirs))).json()["data"] == []
    unchanged = await http.get(path, headers=admin_of(mine))
    assert unchanged.json()["data"] == widget
    # naming a tenant in the body is refused, never honoured: the tenant is the credential's
    other = await http.post(
        f"{A}/dashboard/widgets", json={**WIDGET, "tenant_id": mine}, headers=admin_of(theirs)
    )
    assert other.status_code == 400 and "tenant_id" in str(other.json()["details"])


async def test_two_writers_of_one_version_one_wins_one_gets_412(http: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    widget = await created(http, f"{A}/dashboard/widgets", WIDGET, admin_of(tenant))
    path = f"{A}/dashboard/widgets/{widget['widget_id']}"
    answers = await asyncio.gather(
        http.patch(path, json={"width": 7}, headers={**admin_of(tenant, "a"), "If-Match": '"1"'}),
        http.patch(path, json={"height": 8}, headers={**admin_of(tenant, "b"), "If-Match": '"1"'}),
    )
    assert sorted(r.status_code for r in answers) == [200, 412], [r.text for r in answers]
    winner = next(r for r in answers if r.status_code == 200).json()["data"]
    loser = next(r for r in answers if r.status_code == 412).json()
    assert loser["errorCode"] == "PRECONDITION_FAILED" and "If-Match" in loser["details"]
    now = (await http.get(path, headers=admin_of(tenant))).json()["data"]
    assert now == winner and now["version"] == 2
    assert (now["width"], now["height"]) in ((7, WIDGET["height"]), (WIDGET["width"], 8))
    # the loser reads again and writes on the new version: nothing is lost
    retried = await http.patch(
        path, json={"height": 8, "width": 7}, headers={**admin_of(tenant), "If-Match": '"2"'}
    )
    assert retried.status_code == 200 and retried.json()["data"]["version"] == 3


async def test_dashboards_list_rename_unique_names_and_delete_with_widgets(http: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    first = await created(http, f"{A}/dashboards", {"dashboard_name": "Weekly"}, admin_of(tenant))
    second = await created(
        http, f"{A}/dashboards", {"dashboard_name": "Teachers", "description": "per course"}, admin_of(tenant)
    )
    duplicate = await http.post(
        f"{A}/dashboards", json={"dashboard_name": "Weekly"}, headers=admin_of(tenant)
    )
    assert duplicate.status_code == 409 and duplicate.json()["errorCode"] == "CONFLICT"
    for _ in range(2):
        await created(
            http,
            f"{A}/dashboard/widgets",
            {**WIDGET, "dashboard_id": first["dashboard_id"]},
            admin_of(tenant),
        )
    listed = await http.get(f"{A}/dashboards", params={"limit": 1, "page": 2}, headers=admin_of(tenant))
    assert listed.json()["pagination"] == {"page": 2, "limit": 1, "total": 2, "totalPages": 2}
    assert [d["dashboard_id"] for d in listed.json()["data"]] == [second["dashboard_id"]]
    full = (await http.get(f"{A}/dashboards", headers=admin_of(tenant))).json()["data"]
    assert [(d["dashboard_name"], d["widget_count"]) for d in full] == [("Weekly", 2), ("Teachers", 0)]

    renamed = await http.patch(
        f"{A}/dashboards/{first['dashboard_id']}",
        json={"dashboard_name": "Weekly (all courses)"},
        headers=admin_of(tenant),
    )
    assert renamed.status_code == 200 and renamed.json()["data"]["dashboard_name"] == "Weekly (all courses)"
    stale = await http.patch(
        f"{A}/dashboards/{first['dashboard_id']}",
        json={"description": "x"},
        headers={**admin_of(tenant), "If-Match": '"1"'},
    )
    assert stale.status_code == 412

    deleted = await http.delete(f"{A}/dashboards/{first['dashboard_id']}", headers=admin_of(tenant))
    assert deleted.status_code == 200
    widgets = await http.get(f"{A}/dashboard/widgets", headers=admin_of(tenant))
    assert widgets.json()["data"] == []  # deleted with their dashboard
    # a deleted dashboard's name is free again
    await created(http, f"{A}/dashboards", {"dashboard_name": "Weekly (all courses)"}, admin_of(tenant))


INVALID_WIDGETS: list[tuple[dict[str, Any], str]] = [
    ({**WIDGET, "widget_type": "PIE"}, "widget_type"),
    ({**WIDGET, "width": 0}, "width"),
    ({**WIDGET, "position_x": -1}, "position_x"),
    ({**WIDGET, "widget_config": [1, 2]}, "widget_config"),
    ({**WIDGET, "data_source": "x; DROP TABLE dashboards"}, "data_source"),
    ({**WIDGET, "widget_name": "  "}, "widget_name"),
    ({**WIDGET, "colour": "teal"}, "colour"),
    ({k: v for k, v in WIDGET.items() if k != "height"}, "height"),
    # PostgreSQL refuses NUL characters and unpaired surrogates: both stores refuse them alike
    ({**WIDGET, "widget_config": {"\ud9d2key": 1}}, "widget_config"),
    ({**WIDGET, "widget_name": "tab\x00name"}, "widget_name"),
]


async def test_invalid_widgets_are_refused_naming_the_field(http: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    for body, field in INVALID_WIDGETS:
        response = await http.post(  # ASCII JSON: an unpaired surrogate travels escaped, as a client sends it
            f"{A}/dashboard/widgets",
            content=json.dumps(body),
            headers={**admin_of(tenant), "content-type": "application/json"},
        )
        assert response.status_code == 400, (field, response.text)
        error = response.json()
        assert error["errorCode"] == "ANALYTICS_VALIDATION_ERROR", field
        assert any(field in key for key in error["details"]), (field, error["details"])
    assert (await http.get(f"{A}/dashboard/widgets", headers=admin_of(tenant))).json()["data"] == []


async def test_nulls_only_where_a_field_may_be_empty(http: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    board = await created(http, f"{A}/dashboards", {"dashboard_name": "B"}, admin_of(tenant))
    widget = await created(
        http, f"{A}/dashboard/widgets", {**WIDGET, "dashboard_id": board["dashboard_id"]}, admin_of(tenant)
    )
    path = f"{A}/dashboard/widgets/{widget['widget_id']}"
    refused = await http.patch(path, json={"widget_name": None}, headers=admin_of(tenant))
    assert refused.status_code == 400 and "widget_name" in refused.json()["details"]
    detached = await http.patch(path, json={"dashboard_id": None}, headers=admin_of(tenant))
    assert detached.status_code == 200 and detached.json()["data"]["dashboard_id"] is None


async def test_only_admins_write_and_refusals_are_403(http: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    for role, subject in (("teacher", "4"), ("student", "17")):
        headers = bearer_of(subject, tenant, role)
        response = await http.post(f"{A}/dashboard/widgets", json=WIDGET, headers=headers)
        assert response.status_code == 403 and response.json()["errorCode"] == "FORBIDDEN"
        assert (await http.get(f"{A}/dashboards", headers=headers)).status_code == 403
    assert (await http.post(f"{A}/dashboard/widgets", json=WIDGET)).status_code == 401
    assert (await http.get(f"{A}/dashboard/widgets", headers=admin_of(tenant))).json()["data"] == []
