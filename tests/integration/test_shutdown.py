"""Bounded shutdown: every process exits within 10 s of SIGTERM while its store or broker is unavailable
(``ANALYTICS_SHUTDOWN_TIMEOUT_S`` at its default), answers nothing it did not store, and every event it
acknowledged is stored after the restart.

Unavailable means: for the query API a ClickHouse that accepts connections and never answers (calls hang
in their threads); for ``analytics dev`` a store whose raw table cannot be written (its data directory
replaced by a file, so every insert fails and is retried); for the worker a ClickHouse nobody listens on;
for the gateway its own broker stopped after it connected (records queued, never acknowledged).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from plumbing.kafka_admin import ensure_topics
from schemas.topics import Stream, registry
from tests.conftest import free_port, own_broker, unavailable
from tests.support import rollup_oracle as oracle
from tests.support.auth import bearer
from tests.support.dev_process import Dev, block_raw_table
from tests.support.examples import example
from tests.support.kafka_gateway import read_topic
from tests.support.kafka_worker import (
    Deployment,
    assert_matches_oracle,
    group_members,
    produce,
    wait_caught_up,
)
from tests.support.processes import stop, wait_answering

BOUND_S = 10.0
"""What the issue asks: exit within 10 s of the signal (the deadline's default is 8 s)."""


def timed_stop(process: subprocess.Popen[bytes], what: str) -> float:
    """SIGTERM ``process``; seconds until it exited (killed and failed past 30 s)."""
    elapsed = stop(process, timeout_s=30)
    if elapsed is None:
        pytest.fail(f"{what} still running 30 s after SIGTERM")
    print(f"{what}: exited {process.returncode} {elapsed:.1f} s after SIGTERM")
    return elapsed


def refused_answers(results: list[httpx.Response | BaseException]) -> list[int | str]:
    """Status of each answer to a request in flight at the signal (or the transport error's name); none
    may be a 200, and the answered ones are the 503 envelope with ``Retry-After``."""
    out: list[int | str] = []
    for result in results:
        if isinstance(result, httpx.TransportError):
            out.append(type(result).__name__)
            continue
        assert isinstance(result, httpx.Response), repr(result)
        assert result.status_code == 503, result.text
        assert result.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert int(result.headers["retry-after"]) > 0
        out.append(result.status_code)
    return out


@pytest.fixture
def silent_store() -> Iterator[str]:
    """A ClickHouse URL whose server accepts connections and never answers."""
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        yield f"http://127.0.0.1:{hole.getsockname()[1]}"


@pytest.mark.clickhouse
async def test_query_api_exits_in_time_while_its_store_never_answers(
    silent_store: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, "ANALYTICS_CLICKHOUSE_URL": silent_store, "ANALYTICS_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "query", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_answering(port, process)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=60, headers=bearer()
        ) as client:
            reads = [
                asyncio.create_task(client.get(f"/analytics/dashboard/u{i}?time_period=last_7_days"))
                for i in range(2)
            ]
            await asyncio.sleep(1.5)
            assert not any(read.done() for read in reads), "the reads should be waiting for the store"
            elapsed = await asyncio.to_thread(timed_stop, process, "query API")
            results = await asyncio.gather(*reads, return_exceptions=True)
    finally:
        if process.poll() is None:
            process.kill()
    assert elapsed < BOUND_S
    assert refused_answers(results) == [503, 503]  # answered by the graceful path, not dropped


@pytest.mark.clickhouse
async def test_dev_exits_in_time_while_its_store_fails_and_keeps_what_it_acknowledged(
    tmp_path: Path,
) -> None:
    dev = Dev(tmp_path)
    dev.env["ANALYTICS_GATEWAY_PRODUCE_TIMEOUT_S"] = "2"  # a stuck commit answers 503 after 2 s
    process = dev.start()
    base = example(Stream.EVENTS, "valid_minimal_page_view.json")
    blocked: tuple[Path, Path] | None = None
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{dev.port}", timeout=60, headers=bearer()
        ) as client:
            batch = {"events": [dict(base, user_id=f"a{i}") for i in range(20)]}
            first = await client.post("/analytics/events/batch", json=batch)
            single = await client.post("/analytics/events", json=dict(base, user_id="b"))
            assert first.status_code == single.status_code == 200, (first.text, single.text)
            acknowledged = {*first.json()["data"]["event_ids"], single.json()["data"]["event_id"]}

            blocked = block_raw_table(Path(dev.url.removeprefix("chdb://")))
            stuck = await client.post("/analytics/events", json=dict(base, user_id="c"))
            assert stuck.status_code == 503, stuck.text  # the commit is being retried
            waiting = [
                asyncio.create_task(client.post("/analytics/events", json=dict(base, user_id=f"d{i}")))
                for i in range(2)
            ]
            await asyncio.sleep(0.5)
            elapsed = await asyncio.to_thread(timed_stop, process, "analytics dev")
            results = await asyncio.gather(*waiting, return_exceptions=True)
    finally:
        if process.poll() is None:
            process.kill()
        if blocked is not None:  # the disk is repaired; the store opens again
            blocked[0].unlink()
            blocked[1].rename(blocked[0])
    assert elapsed < BOUND_S
    refused_answers(results)
    stored = dev.query(
        {
            "raw": "SELECT toString(id) FROM analytics_events",
            "rollup": "SELECT sum(events) FROM rollup_user_events WHERE grain = 'daily'",
        }
    )
    assert {row[0] for row in stored["raw"]} == acknowledged  # exactly what was answered 200
    assert stored["rollup"] == [[len(acknowledged)]]


@pytest.mark.kafka
@pytest.mark.clickhouse
async def test_worker_exits_in_time_while_its_store_is_down_and_a_restart_stores_everything_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    down = Deployment(
        kafka_bootstrap, f"sd-{tag}.", f"sd-{tag}-", f"http://127.0.0.1:{free_port()}", "analytics"
    )
    generated = oracle.generate(600, users=12, seed=16)
    await produce(down, generated)  # acknowledged by Kafka, as the gateway's 200s are
    # the abandoned member stays in the group until its session expires: keep that short for the restart
    env = {**down.env(), "BROKER_SESSION_TIMEOUT": "6"}
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "stream_processors", "worker"], env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 60
        while not all(await group_members(down, f"{down.group_prefix}rollups") or [set()]):
            assert worker.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the worker never got its partitions"
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)  # batches taken, their writes failing and retried
        assert "ClickHouse" in log.read_text() and "retrying" in log.read_text()
        elapsed = await asyncio.to_thread(timed_stop, worker, "worker")
    finally:
        if worker.poll() is None:
            worker.kill()
    assert elapsed < BOUND_S

    up = replace(down, clickhouse_url=f"chdb://{tmp_path / 'chdb'}")
    up.migrate()
    restarted = up.start_worker()
    try:
        await wait_caught_up(up, restarted, timeout=120)
    finally:
        stop(restarted)
    assert_matches_oracle(up, generated)  # every event once, raw and every rollup grain


@pytest.mark.kafka
async def test_gateway_exits_in_time_while_its_broker_is_down(tmp_path: Path) -> None:
    broker = own_broker(tmp_path)  # ours to stop: the shared broker stays up
    started = broker.script("up")
    if started.returncode != 0:
        unavailable(f"no local broker of our own: {started.stderr[-500:]}")
    prefix = "sd."
    port = free_port()
    process: subprocess.Popen[bytes] | None = None
    try:
        await ensure_topics(broker.bootstrap, list(registry(prefix, partitions=1).values()))
        env = {**os.environ, "ANALYTICS_KAFKA_BOOTSTRAP": broker.bootstrap, "ANALYTICS_TOPIC_PREFIX": prefix}
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "gateway", "--port", str(port)],
            env={**env, "ANALYTICS_LOG_LEVEL": "WARNING"},
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_answering(port, process, "/readyz")
        base = example(Stream.EVENTS, "valid_minimal_page_view.json")
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=60, headers=bearer()
        ) as client:
            answer = await client.post("/analytics/events/batch", json={"events": [base] * 10})
            assert answer.status_code == 200, answer.text
            acknowledged = set(answer.json()["data"]["event_ids"])
            records = await read_topic(broker.bootstrap, registry(prefix)[Stream.EVENTS].name, 10)
            assert {event["id"] for _, event in records} == acknowledged

            assert broker.script("down").returncode == 0
            waiting = [
                asyncio.create_task(client.post("/analytics/events", json=dict(base, user_id=f"d{i}")))
                for i in range(2)
            ]
            await asyncio.sleep(1.0)
            assert not any(w.done() for w in waiting), "the posts should be waiting for Kafka"
            elapsed = await asyncio.to_thread(timed_stop, process, "gateway")
            results: list[Any] = await asyncio.gather(*waiting, return_exceptions=True)
    finally:
        if process is not None and process.poll() is None:
            process.kill()
        broker.script("down")
    assert elapsed < BOUND_S
    refused_answers(results)
