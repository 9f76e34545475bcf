"""One contract, two transports: the same requests through the gateway give the same stored raw rows and
rollups whether events travel over Kafka to the Faust worker or over the embedded in-process bus of
``analytics dev``. Both are compared with the independent oracle."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from plumbing.kafka_admin import ensure_topics
from schemas.topics import registry
from tests.support import rollup_oracle as oracle
from tests.support.auth import bearer
from tests.support.dev_process import Dev
from tests.support.kafka_gateway import gateway
from tests.support.kafka_worker import PARTITIONS, Deployment, assert_matches_oracle, wait_caught_up
from tests.support.processes import stop

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]
SERVER_ONLY = {"tenant_id", "received_at", "time_clamped", "schema_version"}


def contract_events(seed: int = 31) -> tuple[oracle.Generated, dict[str, list[dict[str, Any]]]]:
    """Oracle events moved into the past (so no time is clamped) for the default tenant, and the request
    bodies that carry them (client ids and timestamps, no server fields)."""
    generated = oracle.generate(1_500, users=30, seed=seed)
    shift = datetime(2026, 11, 1, tzinfo=UTC) - datetime(2027, 1, 2, tzinfo=UTC)
    seen_days: set[tuple[str, str]] = set()
    usage = []
    for event in generated.usage:  # one summary per user and day: "latest wins" needs no ordering then
        if (event["user_id"], event["date"]) not in seen_days:
            seen_days.add((event["user_id"], event["date"]))
            usage.append(event)
    generated.usage = usage
    bodies: dict[str, list[dict[str, Any]]] = {}
    for name in ("events", "performance", "usage", "activities"):
        events = getattr(generated, name)
        for event in events:
            event["tenant_id"] = "default"
            if "timestamp" in event:
                moved = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")) + shift
                event["timestamp"] = oracle.iso(moved)
            if "date" in event:
                event["date"] = (datetime.fromisoformat(event["date"]) + shift).date().isoformat()
        bodies[name] = [{k: v for k, v in e.items() if k not in SERVER_ONLY} for e in events]
    return generated, bodies


async def post_all(client: httpx.AsyncClient, bodies: dict[str, list[dict[str, Any]]]) -> None:
    events = bodies["events"]
    for start in range(0, len(events), 100):
        response = await client.post("/analytics/events/batch", json={"events": events[start : start + 100]})
        assert response.status_code == 200 and response.json()["data"]["failed_count"] == 0, response.text
    for name in ("performance", "usage", "activities"):
        for body in bodies[name]:
            response = await client.post(f"/analytics/{name}", json=body)
            assert response.status_code == 200, response.text


@pytest.fixture(params=["kafka", "embedded"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def zones(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(oracle.TENANT_ZONES, "default", "UTC")
    yield


async def test_both_transports_store_the_same_oracle_equal_results(
    transport: str, kafka_bootstrap: str, tmp_path: Path, zones: None
) -> None:
    generated, bodies = contract_events()
    tag = uuid.uuid4().hex[:8]
    deployment = Deployment(
        kafka_bootstrap, f"c-{tag}.", f"c-{tag}-", f"chdb://{tmp_path / 'ch'}", "analytics"
    )
    if transport == "embedded":
        dev = Dev(tmp_path)
        dev.url = deployment.clickhouse_url
        dev.env["ANALYTICS_CLICKHOUSE_URL"] = dev.url
        process = dev.start()
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{dev.port}", timeout=60, headers=bearer()
            ) as client:
                await post_all(client, bodies)
        finally:
            stop(process)
    else:
        deployment.migrate()
        await ensure_topics(kafka_bootstrap, list(registry(deployment.prefix, PARTITIONS).values()))
        async with gateway(kafka_bootstrap, deployment.prefix) as client:
            await post_all(client, bodies)
        worker = deployment.start_worker()
        try:
            await wait_caught_up(deployment, worker, timeout=240)
        finally:
            stop(worker)
    assert_matches_oracle(deployment, generated)


def test_contract_bodies_are_in_the_past_and_unique_per_usage_day() -> None:
    generated, bodies = contract_events()
    now = datetime.now(UTC) + timedelta(days=1)
    assert all(datetime.fromisoformat(b["timestamp"].replace("Z", "+00:00")) < now for b in bodies["events"])
    assert len({(b["user_id"], b["date"]) for b in bodies["usage"]}) == len(bodies["usage"])
