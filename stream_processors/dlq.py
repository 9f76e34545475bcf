"""Listing and replaying dead letters (``analytics dlq list|replay``).

Replay re-produces letters to their source topic: a letter holding a single event (it failed validation)
is wrapped in a one-event batch; a letter holding a whole message (it failed decoding) is sent as it was.
Replay progress is the committed offset of the consumer group ``<prefix>dlq-replay``, so a letter is
replayed once even if the command runs again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.messages import encode_batch
from stream_processors.dead_letters import (
    HEADER_ERROR,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_STEP,
    HEADER_TIME,
)


@dataclass(frozen=True)
class Letter:
    offset: int
    value: bytes
    headers: dict[str, str]

    def summary(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "step": self.headers.get(HEADER_STEP, ""),
            "error": self.headers.get(HEADER_ERROR, ""),
            "source": f"{self.headers.get(HEADER_PARTITION, '?')}@{self.headers.get(HEADER_OFFSET, '?')}",
            "failed_at": self.headers.get(HEADER_TIME, ""),
            "value": self.value[:200].decode(errors="replace"),
        }

    def replay_value(self) -> bytes:
        if self.headers.get(HEADER_STEP) == "validate":
            try:
                event = orjson.loads(self.value)
            except orjson.JSONDecodeError:
                return self.value
            return encode_batch([event])
        return self.value


async def _letters(
    consumer: AIOKafkaConsumer, tp: TopicPartition, end: int, limit: int
) -> AsyncIterator[Letter]:
    seen = 0
    while seen < limit and await consumer.position(tp) < end:
        batch = await consumer.getmany(tp, timeout_ms=1000, max_records=min(500, limit - seen))
        for record in batch.get(tp, []):
            if record.offset >= end or seen >= limit:
                return
            seen += 1
            headers = {key: value.decode(errors="replace") for key, value in record.headers}
            yield Letter(record.offset, record.value, headers)


async def list_letters(bootstrap: str, dlq_topic: str, limit: int = 50) -> list[Letter]:
    """The first ``limit`` letters of ``dlq_topic`` (its one partition), oldest first."""
    tp = TopicPartition(dlq_topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        return [letter async for letter in _letters(consumer, tp, end, limit)]
    finally:
        await consumer.stop()


async def replay_letters(bootstrap: str, dlq_topic: str, source_topic: str, group: str, limit: int) -> int:
    """Re-produce up to ``limit`` not yet replayed letters to ``source_topic``; return how many."""
    tp = TopicPartition(dlq_topic, 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await consumer.start()
    await producer.start()
    try:
        consumer.assign([tp])
        committed = await consumer.committed(tp)
        consumer.seek(tp, committed or 0)
        end = (await consumer.end_offsets([tp]))[tp]
        replayed = 0
        last = None
        pending = []
        async for letter in _letters(consumer, tp, end, limit):
            pending.append(await producer.send(source_topic, letter.replay_value()))
            last = letter.offset
            replayed += 1
        await asyncio.gather(*pending)
        if last is not None:
            await consumer.commit({tp: last + 1})
        return replayed
    finally:
        await producer.stop()
        await consumer.stop()
