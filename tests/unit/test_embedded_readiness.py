"""``analytics dev`` is not ready while its store has been failing for longer than a request may wait:
every write would answer 503, so ``/readyz`` must not say ready (the issue's finding: it stayed green)."""

from __future__ import annotations

import asyncio

import pytest
from clickhouse_connect.driver.exceptions import OperationalError

from plumbing.shutdown import ShutdownSettings
from plumbing.storage import Storage
from schemas.messages import encode_batch
from schemas.topics import Stream
from stream_processors.embedded import EmbeddedSink
from stream_processors.settings import WorkerSettings
from tests.support.examples import example


def unreachable() -> object:
    raise OperationalError("connection refused")


async def test_not_ready_while_the_store_fails_longer_than_a_request_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANALYTICS_SHUTDOWN_TIMEOUT_S", "1")  # the stop below waits a share of it
    storage = Storage(unreachable, retry_max_s=0.1)  # type: ignore[arg-type]
    sink = EmbeddedSink(WorkerSettings(), storage, ShutdownSettings(), timeout_s=0.3)
    await sink.start()
    assert await sink.ready()
    topic = "analytics.events"
    event = {**example_event(), "id": "00000000-0000-4000-8000-000000000001"}
    waiting = asyncio.create_task(sink.publish(topic, [(0, b"k", encode_batch([event]))], []))
    await asyncio.sleep(0.1)
    assert await sink.ready()  # failing, but not yet for longer than a request waits
    await asyncio.sleep(0.5)
    assert not await sink.ready()
    with pytest.raises(Exception, match="did not confirm in time"):
        await waiting
    await sink.stop()


def example_event() -> dict[str, object]:
    """A stamped event as the gateway would produce it."""
    body = dict(example(Stream.EVENTS, "valid_minimal_page_view.json"))
    return {
        **body,
        "tenant_id": "default",
        "timestamp": "2026-12-01T10:00:00.000Z",
        "received_at": "2026-12-01T10:00:00.000Z",
        "schema_version": 1,
    }
