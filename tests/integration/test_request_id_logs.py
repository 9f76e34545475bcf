"""Logs as operators get them: the gateway and a worker as processes of their own on the real broker, their
standard output and error captured whole. One request's id is in the gateway's JSON lines (the access line)
and in the worker's (``batch stored`` of the batch that carried it, through the message's ``request_id``
header); every line of both is JSON; no line holds the credential, the client's address, the forwarded
address or the event's address."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from plumbing.kafka_admin import ensure_topics
from schemas.topics import Stream, registry
from tests.conftest import free_port
from tests.support.auth import TEST_SECRET, token
from tests.support.examples import example
from tests.support.kafka_worker import Deployment
from tests.support.processes import stop, wait_answering

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

FORWARDED_IP = "203.0.113.77"
EVENT_IP = "198.51.100.23"


@dataclass
class Captured:
    """Every line a process writes to its standard output and error, read as it comes."""

    process: subprocess.Popen[bytes]
    lines: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def start(cls, argv: list[str], env: dict[str, str]) -> Captured:
        process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        captured = cls(process)
        for stream in (process.stdout, process.stderr):
            assert stream is not None
            reader = threading.Thread(target=captured._read, args=(stream,), daemon=True)
            reader.start()
            captured.readers.append(reader)
        return captured

    def _read(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def stop(self) -> None:
        if self.process.poll() is None:
            stop(self.process)
        for reader in self.readers:
            reader.join(timeout=10)

    def records(self) -> list[dict[str, Any]]:
        """Each line as the JSON object it must be (fails naming the first line that is not one)."""
        records = []
        for line in self.lines:
            try:
                record = json.loads(line)
            except ValueError:
                pytest.fail(f"not a JSON line: {line!r}")
            assert isinstance(record, dict), line
            records.append(record)
        return records

    def tail(self) -> str:
        return "\n".join(self.lines[-40:])


@pytest.fixture
def deployment(kafka_bootstrap: str, tmp_path: Path) -> Deployment:
    tag = uuid.uuid4().hex[:8]
    return Deployment(
        kafka_bootstrap, f"logs-{tag}.", f"logs-{tag}-", f"chdb://{tmp_path / 'chdb'}", "analytics"
    )


@pytest.fixture
def processes() -> Iterator[list[Captured]]:
    started: list[Captured] = []
    yield started
    for captured in started:
        captured.stop()


def _batch_stored(record: dict[str, Any], request_id: str) -> bool:
    return record.get("event") == "batch stored" and request_id in (record.get("request_ids") or [])


async def test_a_request_id_is_in_the_gateway_and_worker_lines_and_no_secret_or_address_is_anywhere(
    deployment: Deployment, processes: list[Captured]
) -> None:
    deployment.migrate()
    await ensure_topics(deployment.bootstrap, list(registry(deployment.prefix).values()))
    worker = Captured.start(
        [sys.executable, "-m", "stream_processors", "worker", "--agents", "raw"],
        {
            **deployment.env(),
            "ANALYTICS_LOG_LEVEL": "DEBUG",
            "ANALYTICS_LOG_FORMAT": "json",
            "ANALYTICS_WORKER_METRICS_PORT": "0",
        },
    )
    processes.append(worker)
    port = free_port()
    gateway = Captured.start(
        [sys.executable, "-m", "cli.main", "gateway", "--port", str(port)],
        {**deployment.env(), "ANALYTICS_LOG_LEVEL": "INFO", "ANALYTICS_LOG_FORMAT": "json"},
    )
    processes.append(gateway)
    wait_answering(port, gateway.process, "/readyz")

    credential = token()
    request_id = f"logs-test-{uuid.uuid4().hex}"
    events = [dict(example(Stream.EVENTS, "valid_minimal_page_view.json"), ip_address=EVENT_IP)] * 3
    response = httpx.post(
        f"http://127.0.0.1:{port}/analytics/events/batch",
        json={"events": events},
        headers={
            "authorization": f"Bearer {credential}",
            "x-request-id": request_id,
            "x-forwarded-for": FORWARDED_IP,
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == request_id

    deadline = time.monotonic() + 90  # the only events of the topics: the first batch stored is theirs
    while not any("batch stored" in line for line in list(worker.lines)):
        assert worker.process.poll() is None, f"worker exited:\n{worker.tail()}"
        assert time.monotonic() < deadline, f"no 'batch stored' line naming the request:\n{worker.tail()}"
        await asyncio.sleep(0.5)
    gateway.stop()
    worker.stop()

    leaks = (credential, TEST_SECRET, "127.0.0.1", FORWARDED_IP, EVENT_IP)
    gateway_records = gateway.records()
    assert any(r.get("request_id") == request_id for r in gateway_records), gateway.tail()
    _assert_clean(gateway, gateway_records, leaks)
    worker_records = worker.records()
    assert any(_batch_stored(r, request_id) for r in worker_records), worker.tail()
    _assert_clean(worker, worker_records, leaks)


def _assert_clean(captured: Captured, records: list[dict[str, Any]], leaks: tuple[str, ...]) -> None:
    for record in records:
        assert {"timestamp", "level", "logger", "event"} <= record.keys(), record
    for line in captured.lines:
        for leak in leaks:
            assert leak not in line, f"{leak!r} logged: {line}"
