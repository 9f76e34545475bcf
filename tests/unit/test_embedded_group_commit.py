"""Group commit of the embedded bus: how requests are grouped into commits (no ClickHouse: a recording
writer stands in for :class:`Storage`; what the commits store is covered by the integration tests)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from ingest_gateway.stamping import stamp
from plumbing.shutdown import ShutdownSettings
from schemas.messages import encode_batch
from schemas.payloads import PAYLOAD_MODELS
from schemas.rows import TableBatch
from schemas.topics import Stream, registry
from stream_processors.embedded import EmbeddedSink
from stream_processors.settings import WorkerSettings
from tests.support.examples import examples

TOPIC = registry("analytics.")[Stream.EVENTS].name


class RecordingWriter:
    """Stands in for :class:`Storage`: records the raw rows of each commit, taking ``delay_s`` per insert."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.commits: list[int] = []
        self.closed = False
        self.failures = 0

    async def insert(self, batch: TableBatch, token: str) -> None:
        await asyncio.sleep(self.delay_s)
        if batch.table == "analytics_events":
            self.commits.append(batch.row_count)

    def close(self) -> None:
        self.closed = True


def one_event_record() -> tuple[int, bytes, bytes]:
    _, body = examples(Stream.EVENTS, "valid")[0]
    payload = PAYLOAD_MODELS[Stream.EVENTS].model_validate({**body, "id": None})
    message = stamp(payload, "tenant-a", datetime.now(UTC))
    return 0, b"k", encode_batch([message])


def sink_with(writer: RecordingWriter, wait_s: float) -> EmbeddedSink:
    settings = WorkerSettings(topic_prefix="analytics.", embedded_gather_wait_s=wait_s)
    sink: Any = EmbeddedSink(settings, writer, ShutdownSettings())  # type: ignore[arg-type]
    return sink  # type: ignore[no-any-return]


async def publish(sink: EmbeddedSink, count: int) -> None:
    await asyncio.gather(*(sink.publish(TOPIC, [one_event_record()], []) for _ in range(count)))


async def staggered_rounds(sink: EmbeddedSink) -> None:
    """Six requests at once, then two, and four more 20 ms later (the rest of a client population
    still being parsed)."""
    await publish(sink, 6)

    async def late() -> None:
        await asyncio.sleep(0.02)
        await publish(sink, 4)

    await asyncio.gather(publish(sink, 2), late())


@pytest.mark.parametrize(("wait_s", "expected"), [(0.2, [6, 6]), (0.0, [6, 2, 4])])
async def test_a_commit_waits_for_as_many_as_recent_commits(wait_s: float, expected: list[int]) -> None:
    writer = RecordingWriter()
    sink = sink_with(writer, wait_s)
    await sink.start()
    try:
        await staggered_rounds(sink)
    finally:
        await sink.stop()
    assert writer.commits == expected
    assert writer.closed


async def test_a_lone_client_never_waits() -> None:
    writer = RecordingWriter()
    sink = sink_with(writer, 5.0)
    await sink.start()
    try:
        async with asyncio.timeout(2.0):  # waiting 5 s for a fellow request would fail this
            for _ in range(5):
                await publish(sink, 1)
    finally:
        await sink.stop()
    assert writer.commits == [1, 1, 1, 1, 1]


async def test_the_target_follows_the_load_down() -> None:
    """After a burst, smaller groups wait at most ``wait_s`` each, and once the burst has left the window
    of recent commits they no longer wait at all."""
    writer = RecordingWriter()
    sink = sink_with(writer, 0.05)
    await sink.start()
    try:
        await publish(sink, 10)
        loop = asyncio.get_running_loop()
        waits = []
        for _ in range(12):
            started = loop.time()
            await publish(sink, 1)
            waits.append(loop.time() - started)
    finally:
        await sink.stop()
    assert writer.commits == [10] + [1] * 12
    assert all(w >= 0.045 for w in waits[:8]), waits
    assert all(w < 0.045 for w in waits[8:]), waits
