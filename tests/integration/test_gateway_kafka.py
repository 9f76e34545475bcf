"""The gateway against the real broker: round trips, partial batches, and a broker outage."""

from __future__ import annotations

import asyncio
import gzip
import time
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingest_gateway.partitioner import partition_of
from plumbing.kafka_admin import ensure_topics
from schemas.topics import Stream, registry
from tests.conftest import own_broker
from tests.support.examples import example
from tests.support.kafka_gateway import gateway, read_topic
from tests.support.recent_examples import recent_examples

pytestmark = pytest.mark.kafka

ROUTES = {
    Stream.EVENTS: "/analytics/events",
    Stream.PERFORMANCE: "/analytics/performance",
    Stream.USAGE: "/analytics/usage",
    Stream.ACTIVITIES: "/analytics/activities",
}
SERVER_FIELDS = {"id", "tenant_id", "received_at", "time_clamped", "schema_version"}


def same_value(posted: Any, stored: Any) -> bool:
    """Equality across JSON re-encoding: times compared as instants, decimals as numbers."""
    if isinstance(posted, str) and isinstance(stored, str) and posted != stored:
        try:
            return datetime.fromisoformat(posted) == datetime.fromisoformat(stored)
        except ValueError:
            return False
    if (
        isinstance(posted, float | int)
        and not isinstance(posted, bool)
        and isinstance(stored, str | float | int)
    ):
        return Decimal(str(posted)) == Decimal(str(stored))
    if isinstance(posted, dict) and isinstance(stored, dict):
        return posted.keys() == stored.keys() and all(same_value(posted[k], stored[k]) for k in posted)
    if isinstance(posted, list) and isinstance(stored, list):
        return len(posted) == len(stored) and all(
            same_value(a, b) for a, b in zip(posted, stored, strict=True)
        )
    return bool(posted == stored)


@pytest.fixture
async def prefix(kafka_bootstrap: str) -> str:
    name = f"gw-{uuid.uuid4().hex[:8]}."
    await ensure_topics(kafka_bootstrap, list(registry(name, partitions=3).values()))
    return name


async def test_every_example_round_trips_through_its_topic(kafka_bootstrap: str, prefix: str) -> None:
    posted: dict[Stream, dict[str, dict[str, Any]]] = {stream: {} for stream in Stream}
    async with gateway(kafka_bootstrap, prefix) as client:
        for stream, name, body in recent_examples("valid"):
            response = await client.post(ROUTES[stream], json=body)
            assert response.status_code == 200, (name, response.text)
            posted[stream][response.json()["data"]["event_id"]] = body
    for stream, bodies in posted.items():
        records = await read_topic(kafka_bootstrap, registry(prefix)[stream].name, len(bodies))
        assert len(records) == len(bodies)
        for record, message in records:
            body = bodies[message["id"]]
            assert record.key == f"default:{body['user_id']}".encode()
            assert record.partition == partition_of(record.key, 3)
            assert dict(record.headers)["schema_version"] == b"1"
            assert message.keys() >= SERVER_FIELDS
            assert message["tenant_id"] == "default"
            assert message["time_clamped"] is False
            for field, value in body.items():
                if field in ("timestamp", "sent_at") and "sent_at" in body:
                    continue  # skew-corrected below
                assert same_value(value, message[field]), (field, value, message[field])
            if stream is not Stream.USAGE:
                assert message["timestamp"].endswith("Z")
            if "sent_at" in body:
                received = datetime.fromisoformat(message["received_at"])
                skew = received - datetime.fromisoformat(body["sent_at"])
                expected = datetime.fromisoformat(body["timestamp"]) + skew
                assert abs((datetime.fromisoformat(message["timestamp"]) - expected).total_seconds()) < 0.002


async def test_batch_with_three_invalid_items_produces_exactly_the_97_others(
    kafka_bootstrap: str, prefix: str
) -> None:
    base = example(Stream.EVENTS, "valid_minimal_page_view.json")
    events: list[Any] = [dict(base, user_id=f"user_{i}", event_name=f"e{i}") for i in range(100)]
    events[13]["event_category"] = "nonsense"
    events[42]["cumulative"] = 1
    events[99]["session_id"] = ""
    async with gateway(kafka_bootstrap, prefix) as client:
        response = await client.post("/analytics/events/batch", json={"events": events})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["processed_count"], data["failed_count"]) == (97, 3)
    assert [(e["index"], e["field"]) for e in data["errors"]] == [
        (13, "event_category"),
        (42, "cumulative"),
        (99, "session_id"),
    ]
    records = await read_topic(kafka_bootstrap, registry(prefix)[Stream.EVENTS].name, 97)
    names = sorted(event["event_name"] for _, event in records)
    assert names == sorted(f"e{i}" for i in range(100) if i not in (13, 42, 99))
    assert sorted(event["id"] for _, event in records) == sorted(data["event_ids"])
    for record, event in records:
        assert record.partition == partition_of(f"default:{event['user_id']}".encode(), 3)


async def test_broker_outage_gives_503_and_recovers_without_restart(tmp_path: Path) -> None:
    """A broker of our own (so stopping it disturbs no other test)."""
    broker = own_broker(tmp_path)

    def script(command: str) -> None:
        done = broker.script(command)
        assert done.returncode == 0, done.stderr

    bootstrap = broker.bootstrap
    body = example(Stream.EVENTS, "valid_minimal_page_view.json")
    script("up")
    try:
        await ensure_topics(bootstrap, list(registry("outage.", partitions=1).values()))
        async with gateway(bootstrap, "outage.", gateway_produce_timeout_s=3.0) as client:
            before = await client.post("/analytics/events", json=dict(body, event_name="before"))
            assert before.status_code == 200
            script("down")
            during = await client.post("/analytics/events", json=dict(body, event_name="during"))
            assert during.status_code == 503
            assert during.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
            assert "event_id" not in during.text
            assert int(during.headers["retry-after"]) > 0
            assert (await client.get("/readyz")).status_code == 503
            script("up")
            deadline = time.monotonic() + 60
            while True:
                after = await client.post("/analytics/events", json=dict(body, event_name="after"))
                if after.status_code == 200:
                    break
                assert after.status_code == 503
                assert time.monotonic() < deadline, "gateway did not recover after the broker came back"
                await asyncio.sleep(1)
            after_id = after.json()["data"]["event_id"]
        records = await read_topic(bootstrap, "outage.events", 2)
        by_name = {event["event_name"]: event["id"] for _, event in records}
        assert by_name["before"] == before.json()["data"]["event_id"]
        assert by_name["after"] == after_id
    finally:
        script("down")


async def test_refused_bodies_get_their_4xx_and_produce_nothing(kafka_bootstrap: str, prefix: str) -> None:
    base = example(Stream.EVENTS, "valid_minimal_page_view.json")
    nested: Any = 1
    for _ in range(40):
        nested = {"k": nested}
    bomb = gzip.compress(b'{"events": [' + b" " * (8 * 1024 * 1024) + b"]}")
    cases: list[tuple[str, bytes, dict[str, str], int, str]] = [
        ("oversized", b'{"events": [' + b" " * (6 * 1024 * 1024) + b"]}", {}, 413, "PAYLOAD_TOO_LARGE"),
        ("gzip bomb", bomb, {"content-encoding": "gzip"}, 413, "PAYLOAD_TOO_LARGE"),
        (
            "deeply nested",
            orjson.dumps({"events": [dict(base, properties=nested)]}),
            {},
            422,
            "VALIDATION_ERROR",
        ),
        ("not json", b"<xml>events</xml>", {}, 400, "VALIDATION_ERROR"),
        ("too many events", orjson.dumps({"events": [base] * 1001}), {}, 413, "PAYLOAD_TOO_LARGE"),
    ]
    async with gateway(kafka_bootstrap, prefix) as client:
        for name, body, headers, status, code in cases:
            response = await client.post("/analytics/events/batch", content=body, headers=headers)
            assert response.status_code == status, (name, response.text[:200])
            assert response.json()["error"]["code"] == code, name
    assert await read_topic(kafka_bootstrap, registry(prefix)[Stream.EVENTS].name, 0, timeout=2) == []
