"""``analytics dev``: the one-process product on chDB. Acknowledged events are stored (raw and rollups)
before the answer, so a SIGKILL right after the acknowledgements loses none; data survives restarts."""

from __future__ import annotations

import asyncio
import gzip
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from schemas.rows import RAW_TABLES
from schemas.topics import Stream
from tests.support.auth import bearer
from tests.support.dev_process import Dev
from tests.support.examples import example
from tests.support.recent_examples import recent_examples

pytestmark = pytest.mark.clickhouse
ROUTES = {
    Stream.EVENTS: "/analytics/events",
    Stream.PERFORMANCE: "/analytics/performance",
    Stream.USAGE: "/analytics/usage",
    Stream.ACTIVITIES: "/analytics/activities",
}


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    yield Dev(tmp_path)


async def post_everything(port: int) -> dict[Stream, list[str]]:
    ids: dict[Stream, list[str]] = {stream: [] for stream in Stream}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30, headers=bearer()) as client:
        for stream, _, body in recent_examples("valid"):  # dated examples would age out of retention
            response = await client.post(ROUTES[stream], json=body)
            assert response.status_code == 200, response.text
            ids[stream].append(response.json()["data"]["event_id"])
        base = example(Stream.EVENTS, "valid_minimal_page_view.json")
        batch = {"events": [dict(base, user_id=f"u{i}") for i in range(50)]}
        for body, headers in (
            (orjson.dumps(batch), {}),
            (gzip.compress(orjson.dumps(batch)), {"content-encoding": "gzip"}),
        ):
            response = await client.post("/analytics/events/batch", content=body, headers=headers)
            assert response.status_code == 200, response.text
            ids[Stream.EVENTS].extend(response.json()["data"]["event_ids"])
        # concurrent requests share commits (group commit) and are each acknowledged after storing
        responses = await asyncio.gather(
            *(client.post("/analytics/events", json=dict(base, user_id=f"c{i}")) for i in range(40))
        )
        assert all(r.status_code == 200 for r in responses)
        ids[Stream.EVENTS].extend(r.json()["data"]["event_id"] for r in responses)
    return ids


def stored_ids(dev: Dev) -> dict[str, set[str]]:
    tables = {stream.value: table for stream, table in RAW_TABLES.items()}
    rows = dev.query({name: f"SELECT toString(id) FROM {table}" for name, table in tables.items()})
    return {name: {str(r[0]) for r in values} for name, values in rows.items()}


async def test_sigkill_right_after_acknowledgements_loses_nothing_and_data_survives_restarts(
    dev: Dev,
) -> None:
    process = dev.start()
    ids = await post_everything(dev.port)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stored = stored_ids(dev)
    for stream, acknowledged in ids.items():
        assert set(acknowledged) <= stored[stream.value], stream
    rollup = dev.query({"events": "SELECT sum(events) FROM rollup_user_events WHERE grain = 'daily'"})
    assert rollup["events"] == [[len(ids[Stream.EVENTS])]]

    process = dev.start()  # restart on the same data: earlier events are still there, new ones add up
    more = await post_everything(dev.port)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    stored = stored_ids(dev)
    assert set(ids[Stream.EVENTS]) | set(more[Stream.EVENTS]) <= stored["events"]
    rollup = dev.query({"events": "SELECT sum(events) FROM rollup_user_events WHERE grain = 'daily'"})
    # valid_backdated_with_client_id.json carries its own id: posted again, it is a retry, counted once
    assert len(set(ids[Stream.EVENTS]) | set(more[Stream.EVENTS])) == len(ids[Stream.EVENTS]) * 2 - 1
    assert rollup["events"] == [[len(set(ids[Stream.EVENTS]) | set(more[Stream.EVENTS]))]]


def wait_for_line(process: subprocess.Popen[bytes], needle: str, timeout_s: float) -> str:
    """The first output line of ``process`` containing ``needle``; the rest of its output keeps draining."""
    return wait_for_lines(process, (needle,), timeout_s)[needle]


def wait_for_lines(
    process: subprocess.Popen[bytes], needles: tuple[str, ...], timeout_s: float
) -> dict[str, str]:
    """The first output line of ``process`` containing each of ``needles`` (waiting for the last)."""
    assert process.stdout is not None
    stream = process.stdout
    found = threading.Event()
    seen: list[str] = []

    def read() -> None:
        for raw in iter(stream.readline, b""):
            seen.append(raw.decode(errors="replace"))
            if needles[-1] in seen[-1]:
                found.set()

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(timeout_s), (
        f"no line with {needles[-1]!r} within {timeout_s} s:\n{''.join(seen)[-3000:]}"
    )
    return {needle: next(line for line in seen if needle in line) for needle in needles}


def test_demo_fills_an_empty_store_once_and_a_restart_adds_nothing(dev: Dev) -> None:
    process = dev.start("--demo")
    try:
        lines = wait_for_lines(process, ("demo data ready", "generate it now"), timeout_s=150)
        ready = lines["demo data ready"]
        report_id = lines["generate it now"].split("demo: report ")[1].split(" ")[0]
        report = httpx.get(f"http://127.0.0.1:{dev.port}/api/admin/reports/{report_id}", headers=bearer())
        assert (report.json()["data"]["report_name"], report.json()["data"]["report_status"]) == (
            "Weekly system usage",
            "SCHEDULED",
        )
    finally:
        process.terminate()
        process.wait(timeout=60)
    tables = tuple(RAW_TABLES.values())
    queries = {table: f"SELECT count() FROM {table}" for table in tables}
    queries["span"] = "SELECT dateDiff('day', min(timestamp), max(timestamp)) FROM analytics_events"
    queries["users"] = "SELECT uniqExact(user_id), countIf(user_id = 'demo_user_1') FROM analytics_events"
    first = dev.query(queries)
    counts = {table: first[table][0][0] for table in tables}
    assert sum(counts.values()) >= 20_000 and all(counts.values()), counts
    assert f"{sum(counts.values()):,} events" in ready  # what it printed is what was stored
    assert first["span"][0][0] >= 35  # about six weeks of history
    assert first["users"][0][0] >= 30 and first["users"][0][1] > 0

    process = dev.start("--demo")
    try:
        wait_for_line(process, "no demo data added", timeout_s=30)
    finally:
        process.terminate()
        process.wait(timeout=60)
    again = dev.query({table: f"SELECT count() FROM {table}" for table in tables})
    assert {table: again[table][0][0] for table in tables} == counts
