"""Dead letters: events that cannot be decoded or validated go to the stream's ``.dlq`` topic, with headers
saying what failed where, and the agent goes on. Delivery is at least once (a replayed batch may send a
letter again); the ``dlq`` command lists and replays them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from aiokafka import AIOKafkaProducer

from schemas.messages import format_time

HEADER_ERROR = "dlq_error"
HEADER_STEP = "dlq_step"
HEADER_TOPIC = "dlq_source_topic"
HEADER_PARTITION = "dlq_source_partition"
HEADER_OFFSET = "dlq_source_offset"
HEADER_TIME = "dlq_failed_at"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    value: bytes
    error: str
    step: str
    topic: str
    partition: int
    offset: int

    def headers(self, failed_at: datetime) -> list[tuple[str, bytes]]:
        return [
            (HEADER_ERROR, self.error[:2000].encode()),
            (HEADER_STEP, self.step.encode()),
            (HEADER_TOPIC, self.topic.encode()),
            (HEADER_PARTITION, str(self.partition).encode()),
            (HEADER_OFFSET, str(self.offset).encode()),
            (HEADER_TIME, format_time(failed_at).encode()),
        ]


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


class DeadLetterSink(Protocol):
    async def send(self, letters: Sequence[DeadLetter]) -> None: ...


class KafkaDeadLetters:
    """Produces dead letters with an idempotent producer; returns once Kafka acknowledged them."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._producer: AIOKafkaProducer | None = None

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap, acks="all", enable_idempotence=True
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        producer = await self._started()
        now = datetime.now(UTC)
        pending = [
            await producer.send(dead_letter_topic(letter.topic), letter.value, headers=letter.headers(now))
            for letter in letters
        ]
        await asyncio.gather(*pending)

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
