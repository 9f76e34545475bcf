"""``analytics dev`` serves the query API beside the gateway: what was posted is read back through the
read routes (listings and rollup-backed dashboards), also after a restart; a time-zone change saved through
the config route is rebuilt by the process's own background upkeep."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from schemas.topics import Stream
from tests.integration.test_embedded_dev import post_everything
from tests.support.auth import bearer
from tests.support.dev_process import Dev

pytestmark = pytest.mark.clickhouse


def _get(dev: Dev, path: str) -> Any:
    response = httpx.get(f"http://127.0.0.1:{dev.port}{path}", timeout=30, headers=bearer())
    assert response.status_code == 200, (path, response.text)
    body = response.json()
    assert body["success"] is True
    return body


async def test_posted_events_are_read_back_through_the_query_routes_across_a_restart(tmp_path: Path) -> None:
    dev = Dev(tmp_path)
    dev.env["ANALYTICS_WORKER_ZONE_REFRESH_S"] = "1"  # the upkeep's interval
    process = dev.start()
    try:
        ids = await post_everything(dev.port)
        listed = _get(dev, "/analytics/events?limit=1000")
        assert {e["id"] for e in listed["data"]} == set(ids[Stream.EVENTS])
        assert listed["pagination"]["total"] == len(ids[Stream.EVENTS])
        events_of = {e["user_id"] for e in listed["data"]}
        user = sorted(events_of)[0]
        dashboard = _get(dev, f"/analytics/dashboard/{user}?time_period=last_24_hours")["data"]
        mine = [e for e in listed["data"] if e["user_id"] == user]
        assert dashboard["overview"]["total_events"] == len(mine)
        week = _get(dev, f"/analytics/dashboard/{user}?time_period=last_7_days")["data"]
        assert week["overview"]["total_events"] >= len(mine)
        bad = httpx.get(
            f"http://127.0.0.1:{dev.port}/analytics/dashboard/{user}?time_period=soon", headers=bearer()
        )
        assert bad.status_code == 400
        assert [d["field"] for d in bad.json()["error"]["details"]] == ["time_period"]
        malformed = httpx.post(
            f"http://127.0.0.1:{dev.port}/analytics/events", json={"user_id": 5}, headers=bearer()
        )
        assert malformed.status_code == 422  # the gateway's rule for bodies stays
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)

    process = dev.start()
    try:
        again = _get(dev, "/analytics/events?limit=1000")
        assert again["pagination"]["total"] == len(ids[Stream.EVENTS])
        saved = httpx.put(
            f"http://127.0.0.1:{dev.port}/analytics/config/{user}",
            json={"tenant": {"time_zone": "Pacific/Auckland"}},
            timeout=30,
            headers=bearer(),
        ).json()["data"]
        scheduled = saved["rollup_rebuilds"][0]
        assert scheduled["reason"] == "time zone UTC -> Pacific/Auckland"
        # read back after scheduling: the upkeep (every second here) may have taken it up already
        assert scheduled["status"] in ("pending", "running", "done"), scheduled
        deadline = time.monotonic() + 60
        while True:  # the upkeep task picks the job up within its refresh interval
            jobs = _get(dev, f"/analytics/config/{user}")["data"]["rollup_rebuilds"]
            if jobs[0]["status"] == "done":
                break
            assert jobs[0]["status"] in ("pending", "running"), jobs
            assert time.monotonic() < deadline, jobs
            time.sleep(0.5)
        after = _get(dev, f"/analytics/dashboard/{user}?time_period=last_7_days")["data"]
        assert after["overview"]["total_events"] == week["overview"]["total_events"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
