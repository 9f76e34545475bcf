"""The agents of one worker app share one dead-letter sink: concurrent first sends start one producer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stream_processors import dead_letters
from stream_processors.dead_letters import DeadLetter, KafkaDeadLetters


class SlowStartingProducer:
    """Stands in for aiokafka's producer (no broker here): its start yields to the loop, as a real one's
    connection does, and each instance and message is counted."""

    instances: list[SlowStartingProducer] = []

    def __init__(self, **options: Any) -> None:
        self.sent: list[tuple[str, bytes]] = []
        SlowStartingProducer.instances.append(self)

    async def start(self) -> None:
        await asyncio.sleep(0.01)

    async def send(self, topic: str, value: bytes, **options: Any) -> asyncio.Future[None]:
        self.sent.append((topic, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_concurrent_first_sends_share_one_producer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dead_letters, "AIOKafkaProducer", SlowStartingProducer)
    SlowStartingProducer.instances = []
    sink = KafkaDeadLetters("127.0.0.1:9")
    letters = [[DeadLetter(b"x", "bad", "decode", f"t{i}", 0, i)] for i in range(4)]
    await asyncio.gather(*(sink.send(batch) for batch in letters))
    assert len(SlowStartingProducer.instances) == 1
    assert sorted(topic for topic, _ in SlowStartingProducer.instances[0].sent) == [
        f"t{i}.dlq" for i in range(4)
    ]
