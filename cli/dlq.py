"""Listing and replaying dead letters (``analytics dlq list|replay``).

Replay re-produces letters to their source topic, with the source message's key and partition: a letter
holding a single event (it failed validation or the store refused it) is wrapped in a one-event batch; a
letter holding a whole message (it failed decoding) is sent as it was. A store letter's replay carries its
group and the tables that hold the event already (headers), so only that group stores it, in the tables
that lack it. Replay progress is the committed offset of the consumer group ``<prefix>dlq-replay``, so a
letter is replayed once even if the command runs again. Should the command die between producing a letter
and committing, the letter is produced again by the next run, and the workers' ledger
(:mod:`stream_processors.ledger`, which treats replayed letters like client-chosen ids) stores it once.

A replayed letter that fails again is dead-lettered again with the same letter id: ``list`` shows each
letter id once (its latest copy), so a failure is never listed twice.

The Kafka client and :mod:`stream_processors.dead_letters` (which loads it) are imported by the functions
that use them: the ``analytics`` command imports this module to register ``dlq``, and its ``--help`` must
stay quick.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from plumbing.settings import CommonSettings, load_settings
from schemas.messages import encode_batch
from schemas.topics import Stream, registry

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, TopicPartition


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``dlq list|replay [--stream S] [--limit N]``; sets ``handler``."""
    parser = subparsers.add_parser("dlq", help="list or replay a stream's dead letters")
    parser.add_argument("action", choices=["list", "replay"])
    parser.add_argument("--stream", default="events", choices=[stream.value for stream in Stream])
    parser.add_argument("--limit", type=int, default=50)
    parser.set_defaults(handler=_cmd_dlq)


def _cmd_dlq(args: argparse.Namespace) -> int:
    settings = load_settings(CommonSettings)
    spec = registry(settings.topic_prefix)[Stream(args.stream)]
    if args.action == "list":
        letters = asyncio.run(list_letters(settings.kafka_bootstrap, spec.dead_letter_name, args.limit))
        for letter in letters:
            print(json.dumps(letter.summary()))
        print(f"{len(letters)} dead letters shown from {spec.dead_letter_name}")
        return 0
    group = f"{settings.topic_prefix}dlq-replay"
    count = asyncio.run(
        replay_letters(settings.kafka_bootstrap, spec.dead_letter_name, spec.name, group, args.limit)
    )
    print(f"replayed {count} dead letters from {spec.dead_letter_name} to {spec.name}")
    return 0


@dataclass(frozen=True)
class Letter:
    offset: int
    value: bytes
    headers: dict[str, str]
    key: bytes | None = None

    @property
    def letter_id(self) -> str:
        """The failure's id (letters written before ids existed: their own offset)."""
        from stream_processors.dead_letters import HEADER_LETTER_ID

        return self.headers.get(HEADER_LETTER_ID) or f"offset:{self.offset}"

    @property
    def source_partition(self) -> int | None:
        from stream_processors.dead_letters import HEADER_PARTITION

        text = self.headers.get(HEADER_PARTITION, "")
        return int(text) if text.isdigit() else None

    def replay_headers(self) -> list[tuple[str, bytes]]:
        """What tells the workers which group stores the replay and which tables to skip."""
        from stream_processors.dead_letters import HEADER_GROUP, HEADER_LETTER_ID, HEADER_STORED_TABLES

        names = (HEADER_GROUP, HEADER_STORED_TABLES, HEADER_LETTER_ID)
        return [(name, self.headers[name].encode()) for name in names if self.headers.get(name)]

    def summary(self) -> dict[str, Any]:
        from stream_processors.dead_letters import (
            HEADER_ERROR,
            HEADER_GROUP,
            HEADER_OFFSET,
            HEADER_PARTITION,
            HEADER_STEP,
            HEADER_TIME,
        )

        return {
            "offset": self.offset,
            "letter_id": self.letter_id,
            "group": self.headers.get(HEADER_GROUP, ""),
            "step": self.headers.get(HEADER_STEP, ""),
            "error": self.headers.get(HEADER_ERROR, ""),
            "source": f"{self.headers.get(HEADER_PARTITION, '?')}@{self.headers.get(HEADER_OFFSET, '?')}",
            "failed_at": self.headers.get(HEADER_TIME, ""),
            "value": self.value[:200].decode(errors="replace"),
        }

    def replay_value(self) -> bytes:
        from stream_processors.dead_letters import HEADER_STEP, STEP_DECODE

        if self.headers.get(HEADER_STEP) != STEP_DECODE:
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
            yield Letter(record.offset, record.value, headers, record.key)


async def list_letters(bootstrap: str, dlq_topic: str, limit: int = 50) -> list[Letter]:
    """The first ``limit`` failures of ``dlq_topic`` (its one partition), oldest first: each letter id once,
    as its latest copy."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    tp = TopicPartition(dlq_topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        latest: dict[str, Letter] = {}
        async for letter in _letters(consumer, tp, end, end):
            latest.pop(letter.letter_id, None)
            latest[letter.letter_id] = letter
        return sorted(latest.values(), key=lambda x: x.offset)[:limit]
    finally:
        await consumer.stop()


async def replay_letters(bootstrap: str, dlq_topic: str, source_topic: str, group: str, limit: int) -> int:
    """Re-produce up to ``limit`` not yet replayed letters to ``source_topic``; return how many."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

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
        async for letter in _letters(consumer, tp, end, limit):
            await (
                await producer.send(
                    source_topic,
                    letter.replay_value(),
                    key=letter.key,
                    partition=letter.source_partition,
                    headers=letter.replay_headers(),
                )
            )
            await consumer.commit({tp: letter.offset + 1})
            replayed += 1
        return replayed
    finally:
        await producer.stop()
        await consumer.stop()
