"""The gateway's producer connects in the background with the shared retry policy: it keeps trying (each
failed producer stopped) until the brokers answer, and a shutdown ends the retrying at once."""

from __future__ import annotations

import asyncio
import time

import pytest

from ingest_gateway.settings import GatewaySettings
from ingest_gateway.sink import KafkaEventSink
from plumbing.shutdown import ShutdownSettings


class FakeProducer:
    def __init__(self, refusals: list[int]) -> None:
        self._refusals = refusals
        self.started = False
        self.stopped = False

    async def start(self) -> None:
        if self._refusals:
            self._refusals.pop()
            raise ConnectionError("brokers unreachable")
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def flush(self) -> None:
        return None


def sink_with(
    refusals: int, monkeypatch: pytest.MonkeyPatch, cap_s: str
) -> tuple[KafkaEventSink, list[FakeProducer]]:
    monkeypatch.setenv("ANALYTICS_RETRY_MAX_S", cap_s)
    monkeypatch.setenv("ANALYTICS_SHUTDOWN_TIMEOUT_S", "1")
    sink = KafkaEventSink(GatewaySettings(), ShutdownSettings())
    left = [1] * refusals
    made: list[FakeProducer] = []

    def new_producer() -> FakeProducer:
        made.append(FakeProducer(left))
        return made[-1]

    monkeypatch.setattr(sink, "_new_producer", new_producer)
    return sink, made


async def test_the_producer_is_retried_until_the_brokers_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    sink, made = sink_with(3, monkeypatch, cap_s="0.02")
    await sink.start()
    deadline = time.monotonic() + 5
    while sink._producer is None and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert sink._producer is made[-1] and len(made) == 4
    assert [p.stopped for p in made] == [True, True, True, False] and made[-1].started
    await sink.stop()
    assert made[-1].stopped


async def test_stopping_ends_the_retries_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    sink, made = sink_with(10**6, monkeypatch, cap_s="30")
    await sink.start()
    await asyncio.sleep(0.5)
    tried = len(made)
    started = time.monotonic()
    await sink.stop()
    assert time.monotonic() - started < 0.2
    await asyncio.sleep(0.3)
    assert tried >= 2 and len(made) == tried and sink._producer is None
