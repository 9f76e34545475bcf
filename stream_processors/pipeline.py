"""The steps of every agent, free of Faust so they are tested on their own:

``decode → transform (pure) → record intent → insert each table (dedup token) → dead-letter poison``,
one partition's contiguous batch at a time (:class:`BatchWriter`), and the exactly-once bookkeeping
around it (:class:`ExactlyOncePartitions`): after a (re)assignment, every open intent of the partition is
re-formed from Kafka and written again before new messages are, and messages it covered are skipped.

The caller acknowledges a chunk's messages only after :meth:`ExactlyOncePartitions.handle` returned, so
offsets move only after ClickHouse has the rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import orjson
from pydantic import ValidationError

from schemas.messages import EnvelopeError, decode_batch, decode_event, unpack_batch
from schemas.topics import Stream
from stream_processors.dead_letters import DeadLetter, DeadLetterSink
from stream_processors.intents import Intent, IntentLog
from stream_processors.storage import Storage
from stream_processors.tracking import TrackingFilter
from stream_processors.transforms import TableBatch, ZoneFor, feed_rows, raw_rows

log = logging.getLogger(__name__)


class AgentGroup(StrEnum):
    """Agent groups, each its own consumer group and deployable on its own."""

    RAW = "raw"
    ROLLUPS = "rollups"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One Kafka message as the pipeline sees it."""

    topic: str
    partition: int
    offset: int
    value: bytes


class RangeReader(Protocol):
    async def read(self, topic: str, partition: int, first: int, last: int) -> list[Delivery]:
        """The messages ``first..last`` (inclusive) of one partition."""
        ...


def decode(stream: Stream, deliveries: Sequence[Delivery]) -> tuple[list[Any], list[DeadLetter]]:
    """Validated events, and dead letters for undecodable messages and invalid events."""
    events: list[Any] = []
    letters: list[DeadLetter] = []
    for delivery in deliveries:
        try:
            events.extend(decode_batch(stream, delivery.value))  # fast path: the whole message is valid
            continue
        except ValidationError:
            pass
        try:
            raw_events = unpack_batch(delivery.value)
        except EnvelopeError as exc:
            letters.append(
                DeadLetter(
                    delivery.value, str(exc), "decode", delivery.topic, delivery.partition, delivery.offset
                )
            )
            continue
        for raw in raw_events:
            try:
                events.append(decode_event(stream, raw))
            except ValidationError as exc:
                letters.append(
                    DeadLetter(
                        orjson.dumps(raw),
                        _summary(exc),
                        "validate",
                        delivery.topic,
                        delivery.partition,
                        delivery.offset,
                    )
                )
    return events, letters


def _summary(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors(include_url=False)
    )


class BatchWriter:
    """Writes one partition's contiguous batch; returns when all of it is stored (retrying meanwhile)."""

    def __init__(
        self,
        stream: Stream,
        group: AgentGroup,
        consumer_group: str,
        storage: Storage,
        intents: IntentLog,
        dead_letters: DeadLetterSink,
        zone_for: ZoneFor,
        tracking: TrackingFilter | None = None,
    ) -> None:
        self.stream = stream
        self.group = group
        self.consumer_group = consumer_group
        self._storage = storage
        self._intents = intents
        self._dead_letters = dead_letters
        self._zone_for = zone_for
        self._tracking = tracking or TrackingFilter()
        self.events_written = 0
        self.dead_lettered = 0
        self.untracked = 0

    def tables(self, events: Sequence[Any]) -> list[TableBatch]:
        if self.group is AgentGroup.RAW:
            return raw_rows(self.stream, events)
        return feed_rows(self.stream, events, self._zone_for)

    def intent_for(self, deliveries: Sequence[Delivery]) -> Intent:
        first, last = deliveries[0], deliveries[-1]
        return Intent(self.consumer_group, first.topic, first.partition, first.offset, last.offset)

    async def write(self, deliveries: Sequence[Delivery], intent: Intent | None = None) -> None:
        if not deliveries:
            return
        intent = intent or self.intent_for(deliveries)
        decoded, letters = decode(self.stream, deliveries)
        events = self._tracking.keep(self.stream, decoded)
        self.untracked += len(decoded) - len(events)
        tables = self.tables(events)
        await self._intents.record(intent)
        for table in tables:
            await self._storage.insert(table, intent.token(table.table))
        if letters:
            await self._dead_letters.send(letters)
        self.events_written += len(events)
        self.dead_lettered += len(letters)


class ExactlyOncePartitions:
    """Per-partition exactly-once bookkeeping around a :class:`BatchWriter` (ADR 0004)."""

    def __init__(self, writer: BatchWriter, intents: IntentLog, reader: RangeReader) -> None:
        self._writer = writer
        self._intents = intents
        self._reader = reader
        self._next_offset: dict[tuple[str, int], int] = {}
        self._replayed_through: dict[tuple[str, int], int] = {}
        self.replayed_batches = 0

    def forget(self, partitions: set[tuple[str, int]]) -> None:
        """Drop state of revoked partitions; their next delivery starts a new assignment."""
        for key in partitions:
            self._next_offset.pop(key, None)
            self._replayed_through.pop(key, None)

    async def handle(self, deliveries: Sequence[Delivery]) -> None:
        """Write a chunk (any partitions, arrival order): one batch per partition."""
        by_partition: dict[tuple[str, int], list[Delivery]] = {}
        for delivery in deliveries:
            by_partition.setdefault((delivery.topic, delivery.partition), []).append(delivery)
        for key, items in by_partition.items():
            if self._next_offset.get(key) != items[0].offset:
                await self._replay_open_intents(key, items[0].offset)
            done = self._replayed_through.get(key, -1)
            await self._writer.write([d for d in items if d.offset > done])
            self._next_offset[key] = items[-1].offset + 1

    async def _replay_open_intents(self, key: tuple[str, int], committed: int) -> None:
        topic, partition = key
        open_intents = await self._intents.open_since(
            self._writer.consumer_group, topic, partition, committed
        )
        through = -1
        for intent in open_intents:
            deliveries = await self._reader.read(topic, partition, intent.first_offset, intent.last_offset)
            log.info(
                "re-forming batch %s-%s of %s[%s]", intent.first_offset, intent.last_offset, topic, partition
            )
            await self._writer.write(deliveries, intent)
            self.replayed_batches += 1
            through = intent.last_offset
        self._replayed_through[key] = through
