"""``GET/PUT /analytics/config/{user_id}``: preferences and tenant settings round-trip, are validated, and a
time-zone change schedules a rollup rebuild that, once run, re-buckets the tenant's rollups in the new zone
(read back through the dashboard, whose periods now resolve in that zone too)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio

from jobs.rebuild_queue import run_pending_rebuilds
from jobs.retention import enforce_retention
from plumbing.settings import ZoneLookup
from plumbing.storage import Storage
from plumbing.zones import refresh_stored_zones
from query_api.main import create_app
from query_api.settings import QuerySettings
from schemas.tenant_config import TenantSettings
from tests.conftest import ClickHouseTarget
from tests.support.auth import bearer
from tests.support.query_load import load
from tests.support.query_oracle import Dataset, iso

pytestmark = pytest.mark.clickhouse
NOW = datetime(2027, 3, 10, 12, tzinfo=UTC)
TOKYO = ZoneInfo("Asia/Tokyo")


@dataclass
class Clock:
    """The query API's clock, moved by the tests (the time a settings change is recorded at)."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest_asyncio.fixture
async def api(shared_clickhouse: ClickHouseTarget, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    """A query API of the test's own on the module's migrated database, emptied before the test: the
    rebuild and retention jobs the tests run act on every tenant of a database, so no settings, rebuild
    jobs or events of another test may be there."""
    settings = QuerySettings(
        clickhouse_url=shared_clickhouse.url,
        clickhouse_database=shared_clickhouse.database,
        query_cache_ttl_s=0,
    )
    app = create_app(settings, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://query", headers=bearer()
    ) as http:
        yield http
    await app.state.query_store.close()


async def test_preferences_and_settings_round_trip_and_are_validated(api: httpx.AsyncClient) -> None:
    fresh = (await api.get("/analytics/config/u1")).json()["data"]
    assert fresh["tracking"] == {
        "enabled": True,
        "tracked_streams": ["events", "performance", "usage", "activities", "lms_activity"],
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


async def load_utc(clickhouse: ClickHouseTarget, data: Dataset) -> None:
    """Store ``data`` as the workers do (buckets in UTC), with deduplication tokens of this call's own: the
    module's tests share a database and load the same events, and a token repeated from a test before
    would have the insert dropped silently should emptying the tables not make ClickHouse forget it."""
    label = f"load-{uuid.uuid4().hex}"
    await load(clickhouse.url, clickhouse.database, data, ZoneLookup("UTC", {}), label=label)


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
    api: httpx.AsyncClient, shared_clickhouse: ClickHouseTarget
) -> None:
    data = _events()
    await load_utc(shared_clickhouse, data)
    march_8 = date(2027, 3, 8)
    assert await dashboard_events(api, march_8) == 20  # UTC days: hours 0..19
    response = await api.put("/analytics/config/u9", json={"tenant": {"time_zone": "Asia/Tokyo"}})
    jobs = response.json()["data"]["rollup_rebuilds"]
    assert [(j["status"], j["first_day"], j["last_day"]) for j in jobs] == [
        ("pending", "2027-03-07", "2027-03-10")
    ]
    assert "UTC -> Asia/Tokyo" in jobs[0]["reason"]
    # two more changes before the rebuilds run: one rebuild in the zone stored last serves all three
    await api.put("/analytics/config/u9", json={"tenant": {"time_zone": "Europe/Berlin"}})
    await api.put("/analytics/config/u9", json={"tenant": {"time_zone": "Asia/Tokyo"}})

    worker_zones = ZoneLookup("UTC", {})  # what a rollup worker buckets new events with
    storage = Storage(shared_clickhouse.client)
    await refresh_stored_zones(storage, worker_zones)
    storage.close()
    assert worker_zones("default") == TOKYO and worker_zones("other") == ZoneInfo("UTC")

    client = shared_clickhouse.client()
    outcomes = run_pending_rebuilds(client, ZoneLookup("UTC", {}))
    client.close()
    assert [o.status.value for o in outcomes] == ["done"] * 3
    assert [o.events for o in outcomes] == [len(data.events)] * 3
    tokyo_days: dict[date, int] = {}
    for event in data.events:
        day = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).astimezone(TOKYO).date()
        tokyo_days[day] = tokyo_days.get(day, 0) + 1
    for day, count in tokyo_days.items():
        assert await dashboard_events(api, day) == count, day
    status = (await api.get("/analytics/config/u1")).json()["data"]["rollup_rebuilds"]
    first = min(s["first_day"] for s in status)  # the union of the three jobs' ranges
    shared = f"{len(data.events)} raw rows (one run for 3 requests, {first} to 2027-03-10)"
    assert [(s["status"], s["detail"]) for s in status] == [("done", shared)] * 3


VALIDATION_STATUS = 400
"""What the query API answers a refused body with (its validation status)."""
DEFAULT_RETENTION = {"raw_days": 395, "daily_rollup_days": 760, "weekly_monthly_rollup_days": 1826}
LONG_RETENTION = {"raw_days": 1000, "daily_rollup_days": 1000, "weekly_monthly_rollup_days": 2000}


async def put_ok(api: httpx.AsyncClient, body: dict[str, Any]) -> Any:
    response = await api.put("/analytics/config/u1", json=body)
    assert response.status_code == 200, (body, response.text)
    return response.json()["data"]


async def test_a_partial_body_changes_only_the_fields_it_names(
    api: httpx.AsyncClient, shared_clickhouse: ClickHouseTarget
) -> None:
    await load_utc(shared_clickhouse, _events())  # days to rebuild
    tenant = {"time_zone": "Europe/Berlin", "ip_handling": "hash", "retention": LONG_RETENTION}
    data = await put_ok(api, {"tenant": tenant, "tracking": {"tracked_streams": ["events", "usage"]}})
    expected = {**tenant, "user_agent_handling": "keep"}
    assert data["tenant"] == expected and len(data["rollup_rebuilds"]) == 1

    data = await put_ok(api, {"tenant": {"ip_handling": "truncate"}})
    expected["ip_handling"] = "truncate"
    assert data["tenant"] == expected
    assert len(data["rollup_rebuilds"]) == 1  # the zone did not change: no rebuild
    data = await put_ok(api, {"tenant": {"retention": {"raw_days": 900}}})
    expected["retention"] = {**LONG_RETENTION, "raw_days": 900}
    assert data["tenant"] == expected
    data = await put_ok(api, {"tenant": {"user_agent_handling": "drop"}, "tracking": {"enabled": False}})
    expected["user_agent_handling"] = "drop"
    assert data["tenant"] == expected
    assert data["tracking"] == {"enabled": False, "tracked_streams": ["events", "usage"]}
    data = await put_ok(api, {"tenant": {"time_zone": "UTC"}})  # the default, named: a change like any other
    expected["time_zone"] = "UTC"
    assert data["tenant"] == expected
    assert sorted(job["reason"] for job in data["rollup_rebuilds"]) == [
        "time zone Europe/Berlin -> UTC",
        "time zone UTC -> Europe/Berlin",
    ]
    assert [(c["old"], c["new"]) for c in data["retention_changes"]] == [  # 1000 -> 900 days, pending
        (LONG_RETENTION, expected["retention"])
    ]
    data = await put_ok(api, {"tenant": {}})
    assert data["tenant"] == expected and len(data["rollup_rebuilds"]) == 2

    for bad, field in (
        ({"tenant": {"time_zone": None}}, "tenant.time_zone"),
        ({"tenant": {"retention": {"raw_days": None}}}, "tenant.retention.raw_days"),
        ({"tenant": {"retention": {"raw_dayz": 100}}}, "tenant.retention.raw_dayz"),
        ({"tenant": {"retention": {"raw_days": 1500}}}, "tenant.retention"),  # above the stored daily
        ({"tracking": {"enabled": None}}, "tracking.enabled"),
    ):
        response = await api.put("/analytics/config/u1", json=bad)
        assert response.status_code == VALIDATION_STATUS, (bad, response.text)
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR" and f'{field}"' in response.text, (bad, error)
    after = (await api.get("/analytics/config/u2")).json()["data"]
    assert after["tenant"] == expected and len(after["rollup_rebuilds"]) == 2


def _aged_events(days: int, count: int) -> list[dict[str, Any]]:
    return [
        {**row, "id": str(uuid.uuid4()), "timestamp": iso(NOW - timedelta(days=days, hours=i))}
        for i, row in enumerate(_events().events[:count])
    ]


async def test_a_shorter_retention_is_scheduled_after_a_grace_period_and_changing_back_cancels_it(
    api: httpx.AsyncClient, shared_clickhouse: ClickHouseTarget, clock: Clock
) -> None:
    data = _events()  # 26 events a day or two before NOW
    data.events += _aged_events(200, 3) + _aged_events(400, 2)
    await load_utc(shared_clickhouse, data)
    admin = shared_clickhouse.client()

    def kept() -> dict[int, int]:
        """Stored events by age at NOW: 0 (recent), 200 or 400 days."""
        rows = admin.query("SELECT timestamp FROM analytics_events WHERE tenant_id = 'default'").result_rows
        ages = Counter((NOW - ts.replace(tzinfo=UTC)).days for (ts,) in rows)
        return {age: sum(n for a, n in ages.items() if a // 100 == age // 100) for age in (0, 200, 400)}

    def mutations() -> int:
        return int(
            admin.query(
                "SELECT count() FROM system.mutations WHERE database = currentDatabase() "
                "AND table = 'analytics_events'"
            ).result_rows[0][0]
        )

    def job(at: datetime) -> dict[str, int]:
        """The retention job (``analytics retention --apply``, ``analytics dev``'s daily run) at ``at``."""
        report = enforce_retention(admin, at, lambda _: TenantSettings())
        return report.removed().get("analytics_events", {})

    def change(old: dict[str, int], new: dict[str, int], effective: datetime) -> dict[str, Any]:
        return {"effective_at": effective.isoformat().replace("+00:00", "Z"), "old": old, "new": new}

    def raw(days: int) -> dict[str, int]:
        return {**DEFAULT_RETENTION, "raw_days": days}

    assert kept() == {0: 26, 200: 3, 400: 2}
    queued = mutations()
    answer = await put_ok(api, {"tenant": {"retention": {"raw_days": 90}}})
    assert answer["tenant"]["retention"] == raw(90)
    assert answer["retention_changes"] == [change(DEFAULT_RETENTION, raw(90), NOW + timedelta(days=7))]
    assert kept() == {0: 26, 200: 3, 400: 2} and mutations() == queued  # nothing deleted, nothing queued
    assert (await api.get("/analytics/config/u2")).json()["data"]["retention_changes"] == answer[
        "retention_changes"
    ]

    assert job(NOW + timedelta(days=1)) == {"default": 2}  # until then the old 395 days still apply
    assert kept() == {0: 26, 200: 3, 400: 0}

    clock.now = NOW + timedelta(days=2)
    answer = await put_ok(api, {"tenant": {"retention": {"raw_days": 395}}})  # back: cancelled
    assert answer["retention_changes"] == []
    assert job(NOW + timedelta(days=8)) == {} and kept() == {0: 26, 200: 3, 400: 0}

    clock.now = NOW + timedelta(days=3)  # shorter again: a grace period of its own
    answer = await put_ok(api, {"tenant": {"retention": {"raw_days": 90}}})
    assert answer["retention_changes"] == [change(DEFAULT_RETENTION, raw(90), NOW + timedelta(days=10))]
    clock.now = NOW + timedelta(days=4)
    await put_ok(api, {"tenant": {"retention": {"raw_days": 300}}})
    clock.now = NOW + timedelta(days=5)
    answer = await put_ok(api, {"tenant": {"retention": {"raw_days": 90}}})
    # every setting in force during a grace period protects the data for that whole period
    assert answer["retention_changes"] == [
        change(DEFAULT_RETENTION, raw(300), NOW + timedelta(days=10)),
        change(raw(300), raw(90), NOW + timedelta(days=12)),
    ]
    assert job(NOW + timedelta(days=10, minutes=1)) == {} and kept() == {0: 26, 200: 3, 400: 0}
    assert job(NOW + timedelta(days=12, minutes=1)) == {"default": 3}
    assert kept() == {0: 26, 200: 0, 400: 0}
    clock.now = NOW + timedelta(days=12, minutes=1)
    assert (await api.get("/analytics/config/u1")).json()["data"]["retention_changes"] == []
    admin.close()
