"""The gateway in process on a real broker, and reading back what it produced."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from ingest_gateway.main import create_app
from ingest_gateway.settings import GatewaySettings
from schemas.messages import unpack_batch
from tests.support.asgi import served
from tests.support.auth import bearer


@asynccontextmanager
async def gateway(bootstrap: str, prefix: str, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client (an admin's token) of a gateway producing to ``bootstrap`` under topic ``prefix``, once it
    is ready; ``overrides``: other gateway settings."""
    settings = GatewaySettings(kafka_bootstrap=bootstrap, topic_prefix=prefix, **overrides)
    async with served(create_app(settings), "http://gw", bearer()) as client:
        deadline = time.monotonic() + 30
        while (await client.get("/readyz")).status_code != 200:
            assert time.monotonic() < deadline, "gateway never became ready"
            await asyncio.sleep(0.2)
        yield client


async def read_topic(bootstrap: str, topic: str, count: int, timeout: float = 20.0) -> list[tuple[Any, Any]]:
    """(Kafka record, event) of every event in ``topic``, reading until ``count`` events arrived."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=f"reader-{uuid.uuid4().hex[:8]}",
    )
    await consumer.start()
    events: list[tuple[Any, Any]] = []

    def take(batch: dict[Any, list[Any]]) -> None:
        for records in batch.values():
            for record in records:
                events.extend((record, event) for event in unpack_batch(record.value))

    try:
        deadline = time.monotonic() + timeout
        while len(events) < count and time.monotonic() < deadline:
            take(await consumer.getmany(timeout_ms=500))
        take(await consumer.getmany(timeout_ms=1000))  # linger: prove there is nothing beyond `count`
    finally:
        await consumer.stop()
    return events
