"""The gateway as operators run it: ``analytics gateway`` in its own process, stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from plumbing.kafka_admin import ensure_topics
from schemas.topics import Stream, registry
from tests.conftest import free_port
from tests.support.auth import bearer
from tests.support.examples import example
from tests.support.kafka_gateway import read_topic

pytestmark = pytest.mark.kafka


async def test_sigterm_flushes_and_every_acknowledged_event_is_in_the_topic(kafka_bootstrap: str) -> None:
    prefix = f"proc-{uuid.uuid4().hex[:8]}."
    await ensure_topics(kafka_bootstrap, list(registry(prefix, partitions=2).values()))
    port = free_port()
    env = {
        **os.environ,
        "ANALYTICS_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "ANALYTICS_TOPIC_PREFIX": prefix,
        "ANALYTICS_KAFKA_LINGER_MS": "50",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "gateway", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = example(Stream.EVENTS, "valid_minimal_page_view.json")
    acknowledged: list[str] = []
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=30, headers=bearer()
        ) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "gateway did not become ready"
                await asyncio.sleep(0.2)

            async def post(i: int) -> None:
                batch = {"events": [dict(base, user_id=f"u{i}_{j}") for j in range(50)]}
                try:
                    response = await client.post("/analytics/events/batch", json=batch)
                except httpx.TransportError:
                    return  # refused once shutdown began: not acknowledged, fine
                if response.status_code == 200:
                    acknowledged.extend(response.json()["data"]["event_ids"])

            senders = [asyncio.create_task(post(i)) for i in range(40)]
            await asyncio.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            await asyncio.gather(*senders)
        # uvicorn re-raises the captured SIGTERM after its graceful shutdown, so -SIGTERM is a clean exit
        assert process.wait(timeout=60) in (0, -signal.SIGTERM)
        output = process.stdout.read().decode() if process.stdout else ""
        assert "Application shutdown complete" in output, output[-2000:]
    finally:
        if process.poll() is None:
            process.kill()
    assert acknowledged, "no request was acknowledged before shutdown"
    records = await read_topic(kafka_bootstrap, registry(prefix)[Stream.EVENTS].name, len(acknowledged))
    in_topic = {event["id"] for _, event in records}
    assert set(acknowledged) <= in_topic
