"""The steps of every agent, free of Faust so they are tested on their own:

``decode → drop repeats of client ids → transform (pure) → record intent → insert each table (dedup token,
refused rows isolated) → record client ids → dead-letter what can never be stored``, one partition's
contiguous batch at a time (:class:`BatchWriter`), and the exactly-once bookkeeping around it
(:class:`ExactlyOncePartitions`): after a (re)assignment, every open intent of the partition is re-formed
from Kafka and written again before new messages are, and messages it covered are skipped.

The caller acknowledges a chunk's messages only after :meth:`ExactlyOncePartitions.handle` returned, so
offsets move only after ClickHouse has the rows (or they were dead-lettered: ADR 0013).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

import orjson
from pydantic import ValidationError

from plumbing.storage import Storage
from privacy.tracking import TrackingFilter
from schemas.messages import EnvelopeError, decode_batch, decode_event, unpack_batch
from schemas.rows import TableBatch, ZoneFor, feed_rows, raw_rows
from schemas.topics import Stream, message_key
from schemas.transport import HEADER_REQUEST_ID
from stream_processors.dead_letters import (
    HEADER_GROUP,
    HEADER_LETTER_ID,
    HEADER_STORED_TABLES,
    STEP_DECODE,
    STEP_STORE,
    STEP_VALIDATE,
    DeadLetter,
    DeadLetterSink,
)
from stream_processors.intents import Intent, IntentLog
from stream_processors.isolation import Inserter, store_isolating
from stream_processors.ledger import LEDGER_TABLE, EventLedger, Keyed, source_of
from stream_processors.metrics import WorkerMetrics

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
    key: bytes | None = None
    headers: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return source_of(self.topic, self.partition, self.offset)

    def targets(self, group: AgentGroup | None) -> bool:
        """Whether ``group`` processes this message: a replayed store letter is for its group alone."""
        wanted = self.headers.get(HEADER_GROUP)
        return not wanted or group is None or wanted.decode() == group.value

    @property
    def request_id(self) -> str:
        """The id of the gateway request that published this message (``""`` if none came with it)."""
        value = self.headers.get(HEADER_REQUEST_ID)
        return value.decode(errors="replace") if value else ""

    @property
    def stored_tables(self) -> frozenset[str]:
        """Tables that hold this (replayed) message's event already."""
        tables = self.headers.get(HEADER_STORED_TABLES)
        return frozenset(tables.decode().split(",")) if tables else frozenset()


@dataclass(slots=True, eq=False)
class Decoded:
    """A valid event, the message it came in and its position there. Not frozen: one is made per event,
    and a frozen dataclass's constructor costs three times as much; nothing changes one once made."""

    delivery: Delivery
    index: int
    event: Any


def ledger_keys(decoded: Sequence[Decoded]) -> list[Keyed]:
    """What the ledger is asked about each event, in order. Ids chosen by clients, and replayed letters,
    may arrive more than once: ``(source, event, True)``, the message's source formatted once for all its
    keyed events. The ledger never reads the source of an event that cannot repeat, so it is left empty:
    ``("", event, False)``."""
    keys: list[Keyed] = []
    add = keys.append
    delivery: Delivery | None = None
    source = ""
    replayed_letter = False
    for d in decoded:
        if d.delivery is not delivery:
            delivery = d.delivery
            source = ""
            replayed_letter = HEADER_LETTER_ID in delivery.headers
        event = d.event
        if replayed_letter or getattr(event, "client_keyed", False):
            source = source or delivery.source
            add((source, event, True))
        else:
            add(("", event, False))
    return keys


class RangeReader(Protocol):
    async def read(self, topic: str, partition: int, first: int, last: int) -> list[Delivery]:
        """The messages ``first..last`` (inclusive) of one partition."""
        ...


def decode_sourced(stream: Stream, deliveries: Sequence[Delivery]) -> tuple[list[Decoded], list[DeadLetter]]:
    """Validated events with their sources, and dead letters for undecodable messages and invalid events."""
    decoded: list[Decoded] = []
    letters: list[DeadLetter] = []
    for delivery in deliveries:
        try:  # fast path: the whole message is valid
            events = decode_batch(stream, delivery.value)
        except ValidationError:
            pass
        else:
            decoded.extend(Decoded(delivery, i, event) for i, event in enumerate(events))
            continue
        try:
            raw_events = unpack_batch(delivery.value)
        except EnvelopeError as exc:
            letters.append(_letter(delivery, delivery.value, str(exc), STEP_DECODE))
            continue
        for index, raw in enumerate(raw_events):
            try:
                decoded.append(Decoded(delivery, index, decode_event(stream, raw)))
            except ValidationError as exc:
                letters.append(
                    _letter(
                        delivery, orjson.dumps(raw), _summary(exc), STEP_VALIDATE, index, key=_key_of(raw)
                    )
                )
    return decoded, letters


def decode(stream: Stream, deliveries: Sequence[Delivery]) -> tuple[list[Any], list[DeadLetter]]:
    """Validated events, and dead letters for undecodable messages and invalid events."""
    decoded, letters = decode_sourced(stream, deliveries)
    return [d.event for d in decoded], letters


def _key_of(event: Any) -> bytes | None:
    """The partitioning key of one event (a message of several users has a ``tenant:*`` key), so that a
    letter's replay lands in its user's partition; ``None`` when the event has no usable ids."""
    tenant, user = (
        (event.get("tenant_id"), event.get("user_id"))
        if isinstance(event, dict)
        else (getattr(event, "tenant_id", None), getattr(event, "user_id", None))
    )
    return message_key(tenant, user) if isinstance(tenant, str) and isinstance(user, str) else None


def _letter(
    delivery: Delivery,
    value: bytes,
    error: str,
    step: str,
    index: int = -1,
    group: str = "",
    stored_tables: tuple[str, ...] = (),
    key: bytes | None = None,
) -> DeadLetter:
    return DeadLetter(
        value,
        error,
        step,
        delivery.topic,
        delivery.partition,
        delivery.offset,
        key=key or delivery.key,
        index=index,
        group=group,
        stored_tables=stored_tables,
        replay_of=delivery.headers.get(HEADER_LETTER_ID, b"").decode(),
    )


def _summary(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors(include_url=False)
    )


class BatchWriter:
    """Writes one partition's contiguous batch; returns when all of it is stored or dead-lettered
    (retrying while the store is unavailable).

    ``group``: the tables written (raw or rollup feeds); ``None`` writes both, as the embedded mode does.
    Dead letters of undecodable or invalid events are written by the raw group (and the embedded mode)
    only, since every group finds the same ones; store refusals by the group that met them.
    ``intents``: ``None`` when nothing re-forms batches (the embedded mode).
    ``metrics``: where each batch is counted and timed (docs/operations.md); ``None`` counts nothing.
    """

    def __init__(
        self,
        stream: Stream,
        group: AgentGroup | None,
        consumer_group: str,
        storage: Storage,
        intents: IntentLog | None,
        dead_letters: DeadLetterSink,
        zone_for: ZoneFor,
        tracking: TrackingFilter | None = None,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.stream = stream
        self.group = group
        self.consumer_group = consumer_group
        self._storage = storage
        self._intents = intents
        self._dead_letters = dead_letters
        self._zone_for = zone_for
        self._tracking = tracking or TrackingFilter()
        self._ledger = EventLedger(storage, consumer_group)
        self._metrics = metrics
        self._inserts: Inserter = storage if metrics is None else _MeteredInserts(storage, metrics)
        self.events_written = 0
        self.dead_lettered = 0
        self.untracked = 0
        self.repeats = 0

    @property
    def group_name(self) -> str:
        return self.group.value if self.group is not None else self.consumer_group

    def tables(self, events: Sequence[Any]) -> list[TableBatch]:
        if self.group is AgentGroup.RAW:
            return raw_rows(self.stream, events)
        if self.group is AgentGroup.ROLLUPS:
            return feed_rows(self.stream, events, self._zone_for)
        return [*raw_rows(self.stream, events), *feed_rows(self.stream, events, self._zone_for)]

    def intent_for(self, deliveries: Sequence[Delivery]) -> Intent:
        first, last = deliveries[0], deliveries[-1]
        return Intent(self.consumer_group, first.topic, first.partition, first.offset, last.offset)

    async def write(self, deliveries: Sequence[Delivery], intent: Intent | None = None) -> None:
        if not deliveries:
            return
        started = time.perf_counter()
        intent = intent or self.intent_for(deliveries)
        decoded, letters = decode_sourced(self.stream, [d for d in deliveries if d.targets(self.group)])
        if self.group is AgentGroup.ROLLUPS:
            letters = []  # the raw group writes them: one letter per failure, whatever the groups
        kept = self._keep_tracked(decoded)
        keys = ledger_keys(kept)
        firsts = await self._ledger.first_deliveries(keys)
        fresh = [d for d, first in zip(kept, firsts, strict=True) if first]
        repeats = len(kept) - len(fresh)
        self.repeats += repeats
        if self._intents is not None:
            await self._intents.record(intent)
        stored: list[Decoded] = []
        replayed = any(HEADER_STORED_TABLES in d.headers for d in deliveries)
        for part, skip, items in _parts(fresh) if replayed else [("", frozenset[str](), fresh)]:

            def token(path: str, table: str, part: str = part) -> str:
                return intent.token(table, f"{part}{path}")

            refusals = await store_isolating(
                self._inserts, [d.event for d in items], self.tables, token, stored=skip
            )
            refused = {r.index for r in refusals}
            stored.extend(d for i, d in enumerate(items) if i not in refused)
            letters.extend(self._refusal_letter(items[r.index], r.error, r.stored_tables) for r in refusals)
        keyed = [key for key in keys if key[2]]
        if keyed:
            stored_events = {id(d.event) for d in stored}
            stored_keys = [key for key in keyed if id(key[1]) in stored_events]
            await self._ledger.record(stored_keys, intent.token(LEDGER_TABLE))
        if letters:
            await self._dead_letters.send(letters)
            log.warning(
                "dead-lettered %d events of %s",
                len(letters),
                self.stream.value,
                extra={
                    "stream": self.stream.value,
                    "group": self.group_name,
                    "steps": sorted({letter.step for letter in letters}),
                    "request_ids": _request_ids(deliveries, {letter.offset for letter in letters}),
                },
            )
        self.events_written += len(stored)
        self.dead_lettered += len(letters)
        if self._metrics is not None:
            self._count(deliveries, stored, repeats, len(decoded) - len(kept), letters, started)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "batch stored",
                extra={
                    "stream": self.stream.value,
                    "group": self.group_name,
                    "topic": intent.topic,
                    "partition": intent.partition,
                    "first_offset": intent.first_offset,
                    "last_offset": intent.last_offset,
                    "events": len(stored),
                    "dead_letters": len(letters),
                    "request_ids": _request_ids(deliveries),
                },
            )

    def _count(
        self,
        deliveries: Sequence[Delivery],
        stored: list[Decoded],
        repeats: int,
        untracked: int,
        letters: list[DeadLetter],
        started: float,
    ) -> None:
        """Count one batch into the metrics; freshness once per stored message (the gateway stamps every
        event of a request with the same ``received_at``)."""
        assert self._metrics is not None
        m, labels = self._metrics, (self.stream.value, self.group_name)
        m.messages.labels(*labels).inc(len(deliveries))
        m.batch_messages.labels(*labels).observe(len(deliveries))
        m.batch_events.labels(*labels).observe(len(stored) + repeats + untracked)
        for outcome, count in (("stored", len(stored)), ("repeat", repeats), ("untracked", untracked)):
            if count:
                m.events.labels(*labels, outcome).inc(count)
        for step, count in Counter(letter.step for letter in letters).items():
            m.dead_letters.labels(*labels, step).inc(count)
        now = datetime.now(UTC)
        freshness = m.freshness.labels(*labels)
        delivery: Delivery | None = None
        for d in stored:  # in delivery order: a message's events follow each other
            if d.delivery is delivery:
                continue
            delivery = d.delivery
            at = getattr(d.event, "received_at", None)
            if isinstance(at, datetime):
                freshness.observe(max(0.0, (now - at).total_seconds()))
        m.batch_duration.labels(*labels).observe(time.perf_counter() - started)

    def count_replay(self) -> None:
        if self._metrics is not None:
            self._metrics.replayed_batches.labels(self.stream.value, self.group_name).inc()

    def _keep_tracked(self, decoded: list[Decoded]) -> list[Decoded]:
        if self._tracking.keeps_everything:
            return decoded
        tracked = {id(e) for e in self._tracking.keep(self.stream, [d.event for d in decoded])}
        # an erased teacher's id leaves the rows of others still in flight (privacy.tracking.redacted)
        kept = []
        for d in decoded:
            if id(d.event) in tracked:
                event = self._tracking.redacted(self.stream, d.event)
                kept.append(d if event is d.event else replace(d, event=event))
        self.untracked += len(decoded) - len(kept)
        return kept

    def _refusal_letter(self, item: Decoded, error: str, stored_tables: tuple[str, ...]) -> DeadLetter:
        log.error(
            "%s refused an event of %s[%s]@%s (dead-lettered): %s",
            self.group_name,
            item.delivery.topic,
            item.delivery.partition,
            item.delivery.offset,
            error,
        )
        value = orjson.dumps(item.event.model_dump(mode="json"))
        return _letter(
            item.delivery,
            value,
            error,
            STEP_STORE,
            item.index,
            self.group_name,
            stored_tables,
            key=_key_of(item.event),
        )


def _request_ids(deliveries: Sequence[Delivery], offsets: set[int] | None = None) -> list[str]:
    """The gateway request ids of ``deliveries`` (of those at ``offsets`` only, if given), for log lines."""
    return sorted({d.request_id for d in deliveries if offsets is None or d.offset in offsets} - {""})


class _MeteredInserts:
    """The store as :func:`store_isolating` sees it, each insert timed and its rows counted per table."""

    def __init__(self, storage: Storage, metrics: WorkerMetrics) -> None:
        self._storage = storage
        self._metrics = metrics

    async def insert(self, batch: TableBatch, token: str) -> None:
        started = time.perf_counter()
        await self._storage.insert(batch, token)
        self._metrics.insert_duration.labels(batch.table).observe(time.perf_counter() - started)
        self._metrics.insert_rows.labels(batch.table).inc(batch.row_count)


def _parts(items: list[Decoded]) -> list[tuple[str, frozenset[str], list[Decoded]]]:
    """The batch's events by the tables they must skip: all of them together (part ``""``) but for
    replayed letters whose event some tables hold already (part ``r<offset>``, each on its own)."""
    whole = [d for d in items if not d.delivery.stored_tables]
    parts: list[tuple[str, frozenset[str], list[Decoded]]] = [("", frozenset(), whole)] if whole else []
    by_delivery: dict[int, list[Decoded]] = {}
    for d in items:
        if d.delivery.stored_tables:
            by_delivery.setdefault(d.delivery.offset, []).append(d)
    for offset, group in by_delivery.items():
        parts.append((f"r{offset}", group[0].delivery.stored_tables, group))
    return parts


class ExactlyOncePartitions:
    """Per-partition exactly-once bookkeeping around a :class:`BatchWriter` (ADR 0004)."""

    def __init__(self, writer: BatchWriter, intents: IntentLog, reader: RangeReader) -> None:
        self._writer = writer
        self._intents = intents
        self._reader = reader
        self._next_offset: dict[tuple[str, int], int] = {}
        self._replayed_through: dict[tuple[str, int], int] = {}
        self.replayed_batches = 0
        self.recovering = 0
        """Partitions whose open intents are being re-formed right now (readiness waits for none)."""

    def forget(self, partitions: set[tuple[str, int]]) -> None:
        """Drop state of revoked partitions; their next delivery starts a new assignment."""
        for key in partitions:
            self._next_offset.pop(key, None)
            self._replayed_through.pop(key, None)

    async def handle(self, deliveries: Sequence[Delivery]) -> None:
        """Write a chunk (any partitions, arrival order): one batch per partition, the partitions' batches
        concurrently, so one partition's decoding and transforming (Python, holding the GIL) runs while
        another's rows are inserted (the store's calls release it). Partitions share nothing a batch
        relies on: each has its own intents and tokens, and a client's retry lands in its user's partition
        (the ledger, ADR 0013). Returns when every batch is written; if one fails, the others are
        cancelled and the error raised, and nothing of the chunk may be acknowledged."""
        by_partition: dict[tuple[str, int], list[Delivery]] = {}
        for delivery in deliveries:
            by_partition.setdefault((delivery.topic, delivery.partition), []).append(delivery)
        if len(by_partition) == 1:
            [(key, items)] = by_partition.items()
            await self._handle_partition(key, items)
            return
        batches = [asyncio.create_task(self._handle_partition(k, items)) for k, items in by_partition.items()]
        try:
            await asyncio.gather(*batches)
        except BaseException:  # the first failure as it is (a TaskGroup would wrap it in a group)
            for batch in batches:
                batch.cancel()
            await asyncio.gather(*batches, return_exceptions=True)
            raise

    async def _handle_partition(self, key: tuple[str, int], items: list[Delivery]) -> None:
        """One partition's batch; until it is written the partition counts as newly assigned, so a batch
        that failed or was cancelled is re-formed from its intent when its messages come again."""
        if self._next_offset.pop(key, None) != items[0].offset:
            await self._replay_open_intents(key, items[0].offset)
        done = self._replayed_through.get(key, -1)
        await self._writer.write([d for d in items if d.offset > done])
        self._next_offset[key] = items[-1].offset + 1

    async def _replay_open_intents(self, key: tuple[str, int], committed: int) -> None:
        self.recovering += 1
        try:
            self._replayed_through[key] = await self._replay(key, committed)
        finally:
            self.recovering -= 1

    async def _replay(self, key: tuple[str, int], committed: int) -> int:
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
            self._writer.count_replay()
            through = intent.last_offset
        return through
