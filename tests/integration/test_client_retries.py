"""A client retry after a 503 is counted once, on both transports (ADR 0013).

The gateway answers 503 when the sink does not confirm in time, yet the first copy may still be stored
(Kafka: the records were queued and reach the topic; embedded: the commit goes through once the store
recovers). The client sends the same request again — its events carry client ids, or the request an
``Idempotency-Key`` — and every raw table and rollup must hold each event once."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from plumbing.kafka_admin import ensure_topics
from schemas.topics import Stream, registry
from tests.support.auth import bearer
from tests.support.chdb_query import query_in_subprocess
from tests.support.dev_process import Dev, block_raw_table
from tests.support.kafka_gateway import gateway, read_topic
from tests.support.kafka_worker import Deployment, wait_caught_up
from tests.support.processes import stop

USERS = ["r1", "r2", "r3"]


def retried_requests() -> list[tuple[dict[str, Any], dict[str, str]]]:
    """(batch body, headers): one batch whose events carry client ids, one keyed by an Idempotency-Key
    (its events have no timestamp: the gateway stamps the receipt time, different on the retry)."""
    with_ids = {
        "events": [
            {
                "id": str(uuid.uuid4()),
                "user_id": user,
                "session_id": f"s-{user}",
                "event_type": "user_action",
                "event_name": "page_view",
                "event_category": "navigation",
                "properties": {"page": f"/p{i}"},
                "source": "web_app",
                "platform": "web",
                "timestamp": "2026-12-01T10:00:00Z",
            }
            for i, user in enumerate(USERS * 4)
        ]
    }
    keyed = {
        "events": [{k: v for k, v in e.items() if k not in ("id", "timestamp")} for e in with_ids["events"]]
    }
    return [(with_ids, {}), (keyed, {"idempotency-key": f"retry-{uuid.uuid4()}"})]


EXPECTED = 2 * len(USERS) * 4
QUERIES = {
    "raw": "SELECT count(), uniqExact(id) FROM analytics_events",
    "daily": "SELECT sum(events) FROM rollup_user_events WHERE grain = 'daily'",
    "weekly": "SELECT sum(events) FROM rollup_user_events WHERE grain = 'weekly'",
    "monthly": "SELECT sum(events) FROM rollup_user_events WHERE grain = 'monthly'",
    "pages": "SELECT sum(views) FROM rollup_page_views WHERE grain = 'daily'",
}


def assert_counted_once(stored: dict[str, list[list[object]]]) -> None:
    assert stored["raw"] == [[EXPECTED, EXPECTED]]
    for grain in ("daily", "weekly", "monthly"):
        assert stored[grain] == [[EXPECTED]], grain
    assert stored["pages"] == [[EXPECTED]]


async def stored_events(client: httpx.AsyncClient, count: int, timeout: float = 20.0) -> None:
    """Wait until the events listing holds ``count`` events."""
    deadline = asyncio.get_running_loop().time() + timeout
    total = -1
    while asyncio.get_running_loop().time() < deadline:
        answer = await client.get("/analytics/events", params={"limit": 1})
        if answer.status_code == 200:
            total = answer.json()["pagination"]["total"]
            if total == count:
                return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{total} events listed, expected {count}")


@pytest.mark.clickhouse
async def test_embedded_retry_after_a_503_counts_once(tmp_path: Path) -> None:
    dev = Dev(tmp_path)
    dev.env["ANALYTICS_GATEWAY_PRODUCE_TIMEOUT_S"] = "1"
    dev.env["ANALYTICS_RETRY_MAX_S"] = "0.5"
    process = dev.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{dev.port}", timeout=60, headers=bearer()
        ) as client:
            for number, (body, headers) in enumerate(retried_requests(), start=1):
                blocked, aside = block_raw_table(Path(dev.url.removeprefix("chdb://")))
                first = await client.post("/analytics/events/batch", json=body, headers=headers)
                assert first.status_code == 503, first.text  # not confirmed in time...
                blocked.unlink()
                aside.rename(blocked)
                await stored_events(client, number * len(body["events"]))  # ...yet stored once it recovered
                again = await client.post("/analytics/events/batch", json=body, headers=headers)
                assert again.status_code == 200, again.text
    finally:
        stop(process)
    assert_counted_once(dev.query(QUERIES))


@pytest.mark.kafka
@pytest.mark.clickhouse
async def test_kafka_retry_after_a_503_counts_once(kafka_bootstrap: str, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    deployment = Deployment(
        kafka_bootstrap, f"rt-{tag}.", f"rt-{tag}-", f"chdb://{tmp_path / 'ch'}", "analytics"
    )
    deployment.migrate()
    await ensure_topics(kafka_bootstrap, list(registry(deployment.prefix, 3).values()))
    requests = retried_requests()
    # the producer lingers longer than the gateway waits: 503, and the queued records are sent after it
    async with gateway(
        kafka_bootstrap, deployment.prefix, gateway_produce_timeout_s=0.3, kafka_linger_ms=1500
    ) as hasty:
        for body, headers in requests:
            first = await hasty.post("/analytics/events/batch", json=body, headers=headers)
            assert first.status_code == 503, first.text
    topic = registry(deployment.prefix)[Stream.EVENTS].name
    assert len(await read_topic(kafka_bootstrap, topic, EXPECTED)) == EXPECTED  # the 503'd records got in
    async with gateway(kafka_bootstrap, deployment.prefix) as client:
        for body, headers in requests:
            again = await client.post("/analytics/events/batch", json=body, headers=headers)
            assert again.status_code == 200, again.text
    copies = [event["id"] for _, event in await read_topic(kafka_bootstrap, topic, 2 * EXPECTED)]
    assert len(copies) == 2 * EXPECTED and len(set(copies)) == EXPECTED  # every id twice
    worker = deployment.start_worker()
    try:
        await wait_caught_up(deployment, worker, timeout=120)
    finally:
        stop(worker)
    assert_counted_once(query_in_subprocess(deployment.clickhouse_url, deployment.database, QUERIES))
