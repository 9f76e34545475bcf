"""Bad query parameters answer 400 in the envelope, naming the parameter, and never reach the store (it
is unreachable here: a parameter reaching it would answer 503, or 500 as the huge page did). The tenant's
time zone, which periods are resolved in, is known beforehand, as after any earlier read."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from plumbing.tenant_store import default_tenant_settings
from query_api.main import create_app
from query_api.settings import QuerySettings
from tests.conftest import free_port
from tests.support.auth import TENANT, bearer

PAGED = [
    "/analytics/events",
    "/analytics/audit",
    "/analytics/performance/u1",
    "/analytics/usage/u1",
    "/analytics/activities/u1",
]


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    settings = QuerySettings(clickhouse_url=f"http://127.0.0.1:{free_port()}")
    app = create_app(settings)
    app.state.query_tenants.remember(TENANT, default_tenant_settings(settings, TENANT))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://query", headers=bearer()
    ) as client:
        yield client
    await app.state.query_store.close()


async def _refused(api: httpx.AsyncClient, path: str) -> list[tuple[str, str]]:
    response = await api.get(path)
    assert response.status_code == 400, (path, response.text)
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    return [(d["field"], d["type"]) for d in error["details"]]


@pytest.mark.parametrize("path", PAGED)
async def test_pages_and_limits_outside_their_bounds_are_400(api: httpx.AsyncClient, path: str) -> None:
    assert await _refused(api, f"{path}?page=99999999999999999999") == [("page", "less_than_equal")]
    assert await _refused(api, f"{path}?page=100001") == [("page", "less_than_equal")]
    assert await _refused(api, f"{path}?page=0") == [("page", "greater_than_equal")]
    assert await _refused(api, f"{path}?limit=1001") == [("limit", "less_than_equal")]


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/analytics/events?start_date=0001-01-01", "start_date"),
        ("/analytics/events?end_date=2100-01-01", "end_date"),
        ("/analytics/events?start_date=0001-01-01T00:00:00Z", "start_date"),
        ("/analytics/events?start_date=2024-02-30", "start_date"),
        ("/analytics/activities/u1?end_date=1969-12-31", "end_date"),
        (
            "/analytics/dashboard/u1?time_period=custom&start_date=0001-01-01&end_date=2024-01-01",
            "start_date",
        ),
        ("/analytics/dashboard/u1?time_period=custom&start_date=2024-01-01&end_date=2024-13-01", "end_date"),
    ],
)
async def test_dates_outside_the_supported_years_or_calendar_are_400(
    api: httpx.AsyncClient, path: str, parameter: str
) -> None:
    fields = [field for field, _ in await _refused(api, path)]
    assert fields and set(fields) == {parameter}, path


async def test_enumerated_and_cross_parameter_rules_name_the_parameter(api: httpx.AsyncClient) -> None:
    assert await _refused(api, "/analytics/dashboard/u1?time_period=soon") == [("time_period", "enum")]
    assert await _refused(api, "/analytics/trends/u1?metrics=events,vibes") == [
        ("metrics", "string_pattern_mismatch")
    ]
    assert await _refused(api, "/analytics/dashboard/u1?time_period=custom&start_date=2024-01-05") == [
        ("end_date", "invalid_parameter")
    ]


async def test_405_names_every_method_of_the_path(api: httpx.AsyncClient) -> None:
    response = await api.request("PATCH", "/analytics/config/u1")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "HEAD", "PUT"}
