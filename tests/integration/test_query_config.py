"""``GET/PUT /analytics/config/{user_id}``: preferences and tenant settings round-trip, are validated, and a
time-zone change schedules a rollup rebuild that, once run, re-buckets the tenant's rollups in the new zone
(read back through the dashboard, whose periods now resolve in that zone too)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio

from query_api.main import create_app
from query_api.settings import QuerySettings
from schemas.migrate import migrate
from schemas.settings import ZoneLookup
from stream_processors.rebuild_jobs import run_pending_rebuilds
from stream_processors.storage import Storage
from stream_processors.zones import refresh_stored_zones
from tests.auth import bearer
from tests.conftest import ClickHouseTarget
from tests.integration.test_query_api import load
from tests.query_oracle import Dataset, iso

pytestmark = pytest.mark.clickhouse
NOW = datetime(2027, 3, 10, 12, tzinfo=UTC)
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest_asyncio.fixture
async def api(clickhouse: ClickHouseTarget) -> AsyncIterator[httpx.AsyncClient]:
    client = clickhouse.client()
    migrate(client)
    client.close()
    settings = QuerySettings(
        clickhouse_url=clickhouse.url, clickhouse_database=clickhouse.database, query_cache_ttl_s=0
    )
    app = create_app(settings, clock=lambda: NOW)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://query", headers=bearer()
    ) as http:
        yield http
    await app.state.query_store.close()


async def test_preferences_and_settings_round_trip_and_are_validated(api: httpx.AsyncClient) -> None:
    fresh = (await api.get("/analytics/config/u1")).json()["data"]
    assert fresh["tracking"] == {
        "enabled": True,
        "tracked_streams": ["events", "performance", "usage", "activities"],
    }
    assert fresh["tenant"] == {
        "time_zone": "UTC",
        "ip_handling": "store",
        "user_agent_handling": "keep",
        "retention": {"raw_days": 395, "daily_rollup_days": 760, "weekly_monthly_rollup_days": 1826},
    }
    changed = await api.put(
        "/analytics/config/u1", json={"tracking": {"enabled": False, "tracked_streams": ["events"]}}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["tracking"] == {"enabled": False, "tracked_streams": ["events"]}
    assert (await api.get("/analytics/config/u1")).json()["data"]["tracking"]["enabled"] is False
    assert (await api.get("/analytics/config/u2")).json()["data"]["tracking"]["enabled"] is True
    settings = {
        "time_zone": "Europe/Berlin",
        "ip_handling": "hash",
        "retention": {"raw_days": 90, "daily_rollup_days": 400},
    }
    saved = await api.put("/analytics/config/u1", json={"tenant": settings})
    assert saved.json()["data"]["tenant"]["time_zone"] == "Europe/Berlin"
    assert saved.json()["data"]["rollup_rebuilds"] == []  # no raw data: nothing to rebuild
    seen_by_other_user = (await api.get("/analytics/config/u2")).json()["data"]["tenant"]
    assert seen_by_other_user["ip_handling"] == "hash" and seen_by_other_user["retention"]["raw_days"] == 90
    for bad in (
        {"tenant": {"time_zone": "Mars/Olympus_Mons"}},
        {"tenant": {"retention": {"raw_days": 400, "daily_rollup_days": 100}}},
        {"tenant": {"ip_handling": "shout"}},
        {"tracking": {"tracked_streams": ["telepathy"]}},
        {"colour": "blue"},
    ):
        response = await api.put("/analytics/config/u1", json=bad)
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def _events() -> Dataset:
    """Events around UTC midnight of 2027-03-08: on Tokyo's 2027-03-08 and 03-09."""
    data = Dataset()
    for hour in range(-6, 20):
        when = datetime(2027, 3, 8, tzinfo=UTC) + timedelta(hours=hour, minutes=7)
        data.events.append(
            {
                "tenant_id": "default",
                "id": str(uuid.uuid4()),
                "user_id": "u1",
                "received_at": iso(NOW),
                "schema_version": 1,
                "session_id": f"s{hour // 6}",
                "event_type": "user_action",
                "event_name": "click",
                "event_category": "interaction",
                "properties": {},
                "source": "web_app",
                "platform": "web",
                "timestamp": iso(when),
            }
        )
    return data


async def dashboard_events(api: httpx.AsyncClient, day: date) -> Any:
    path = f"/analytics/dashboard/u1?time_period=custom&start_date={day}&end_date={day}"
    return (await api.get(path)).json()["data"]["overview"]["total_events"]


async def test_time_zone_change_schedules_a_rebuild_that_rebuckets(
    api: httpx.AsyncClient, clickhouse: ClickHouseTarget
) -> None:
    data = _events()
    await load(clickhouse.url, clickhouse.database, data, ZoneLookup("UTC", {}))
    march_8 = date(2027, 3, 8)
    assert await dashboard_events(api, march_8) == 20  # UTC days: hours 0..19
    response = await api.put("/analytics/config/u9", json={"tenant": {"time_zone": "Asia/Tokyo"}})
    jobs = response.json()["data"]["rollup_rebuilds"]
    assert [(j["status"], j["first_day"], j["last_day"]) for j in jobs] == [
        ("pending", "2027-03-07", "2027-03-10")
    ]
    assert "UTC -> Asia/Tokyo" in jobs[0]["reason"]

    worker_zones = ZoneLookup("UTC", {})  # what a rollup worker buckets new events with
    storage = Storage(clickhouse.client)
    await refresh_stored_zones(storage, worker_zones)
    storage.close()
    assert worker_zones("default") == TOKYO and worker_zones("other") == ZoneInfo("UTC")

    client = clickhouse.client()
    outcomes = run_pending_rebuilds(client, ZoneLookup("UTC", {}))
    client.close()
    assert [o.status.value for o in outcomes] == ["done"] and outcomes[0].events == len(data.events)
    tokyo_days: dict[date, int] = {}
    for event in data.events:
        day = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).astimezone(TOKYO).date()
        tokyo_days[day] = tokyo_days.get(day, 0) + 1
    for day, count in tokyo_days.items():
        assert await dashboard_events(api, day) == count, day
    status = (await api.get("/analytics/config/u1")).json()["data"]["rollup_rebuilds"]
    assert status[0]["status"] == "done" and status[0]["detail"] == f"{len(data.events)} raw rows"


async def test_a_shorter_retention_deletes_the_tenants_older_rows_at_once(
    api: httpx.AsyncClient, clickhouse: ClickHouseTarget
) -> None:
    old, recent = Dataset(), _events()
    for row in recent.events[:3]:  # the same events, 200 days before now
        old.events.append(
            {**row, "id": str(uuid.uuid4()), "timestamp": iso(datetime.now(UTC) - timedelta(days=200))}
        )
    await load(clickhouse.url, clickhouse.database, old, ZoneLookup("UTC", {}))
    admin = clickhouse.client()

    def stored() -> int:
        return int(
            admin.query("SELECT count() FROM analytics_events WHERE tenant_id = 'default'").result_rows[0][0]
        )

    assert stored() == 3
    kept = await api.put("/analytics/config/u1", json={"tenant": {"retention": {"raw_days": 365}}})
    assert kept.status_code == 200 and stored() == 3
    shorter = await api.put("/analytics/config/u1", json={"tenant": {"retention": {"raw_days": 90}}})
    assert shorter.json()["data"]["tenant"]["retention"]["raw_days"] == 90
    deadline = time.monotonic() + 60
    while stored():  # a lightweight delete queued by the settings change
        assert time.monotonic() < deadline, "old rows still stored a minute after the change"
        await asyncio.sleep(0.5)
    admin.close()
