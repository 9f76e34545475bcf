"""Dead letters: events that can never be stored go to the stream's ``.dlq`` topic, with headers saying what
failed where, and the agent goes on; the ``dlq`` command lists and replays them (ADR 0013).

Steps: ``decode`` (the message is not an event batch), ``validate`` (one event is invalid) and ``store``
(ClickHouse refused the event's rows: a data error isolated by :mod:`stream_processors.isolation`).
One letter per failure whatever the number of agent groups: decode and validate failures are the same in
every group, so only the ``raw`` group writes them (:class:`~stream_processors.pipeline.BatchWriter`);
a store failure is its group's own, and its letter names the group (``dlq_group``) and the tables that
already hold the event (``dlq_stored_tables``), so a replay reaches only that group and skips those tables.
A letter keeps the source message's key and partition, so its replay lands with the user's other events.

Delivery is at least once (a re-formed batch may send a letter again); letters carry an id
(``dlq_letter_id``: source, event index and group) by which ``dlq list`` shows each failure once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from aiokafka import AIOKafkaProducer

from plumbing.storage import Storage
from schemas.messages import format_time
from schemas.rows import TableBatch

HEADER_ERROR = "dlq_error"
HEADER_STEP = "dlq_step"
HEADER_TOPIC = "dlq_source_topic"
HEADER_PARTITION = "dlq_source_partition"
HEADER_OFFSET = "dlq_source_offset"
HEADER_TIME = "dlq_failed_at"
HEADER_GROUP = "dlq_group"
HEADER_STORED_TABLES = "dlq_stored_tables"
HEADER_LETTER_ID = "dlq_letter_id"

STEP_DECODE = "decode"
STEP_VALIDATE = "validate"
STEP_STORE = "store"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """``value``: the whole message (``decode``) or one event's JSON (``validate``, ``store``).
    ``index``: the event's position in its message (-1 for a whole message). ``group``: set for ``store``
    letters only (the group whose store refused the rows); ``stored_tables``: tables that hold it already."""

    value: bytes
    error: str
    step: str
    topic: str
    partition: int
    offset: int
    key: bytes | None = None
    index: int = -1
    group: str = ""
    stored_tables: tuple[str, ...] = ()
    replay_of: str = ""

    @property
    def letter_id(self) -> str:
        """The same for every copy of this failure: a re-formed batch sends it again, and a replayed letter
        that fails again (``replay_of``) keeps the id of the letter it replays."""
        return self.replay_of or f"{self.topic}/{self.partition}/{self.offset}/{self.index}/{self.group}"

    def headers(self, failed_at: datetime) -> list[tuple[str, bytes]]:
        headers = [
            (HEADER_ERROR, self.error[:2000].encode()),
            (HEADER_STEP, self.step.encode()),
            (HEADER_TOPIC, self.topic.encode()),
            (HEADER_PARTITION, str(self.partition).encode()),
            (HEADER_OFFSET, str(self.offset).encode()),
            (HEADER_TIME, format_time(failed_at).encode()),
            (HEADER_LETTER_ID, self.letter_id.encode()),
        ]
        if self.group:
            headers.append((HEADER_GROUP, self.group.encode()))
        if self.stored_tables:
            headers.append((HEADER_STORED_TABLES, ",".join(self.stored_tables).encode()))
        return headers


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


class DeadLetterSink(Protocol):
    async def send(self, letters: Sequence[DeadLetter]) -> None: ...


class KafkaDeadLetters:
    """Produces dead letters with an idempotent producer; returns once Kafka acknowledged them."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()  # agents (and a chunk's partitions) send concurrently: one producer

    async def _started(self) -> AIOKafkaProducer:
        async with self._starting:
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
            await producer.send(
                dead_letter_topic(letter.topic), letter.value, key=letter.key, headers=letter.headers(now)
            )
            for letter in letters
        ]
        await asyncio.gather(*pending)

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


DEAD_LETTER_TABLE = "dead_letters"
_TABLE_COLUMNS = [
    "letter_id",
    "failed_at",
    "step",
    "consumer_group",
    "error",
    "topic",
    "partition",
    "offset",
    "key",
    "stored_tables",
    "value",
]


class StoredDeadLetters:
    """Dead letters of the embedded mode, which has no Kafka: rows of the ``dead_letters`` table (one per
    letter id once merged). Returns once stored; retries while the store is unavailable."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self.sent = 0

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        now = datetime.now(UTC)
        rows = [
            (
                letter.letter_id,
                now,
                letter.step,
                letter.group,
                letter.error[:2000],
                letter.topic,
                letter.partition,
                letter.offset,
                (letter.key or b"").decode(errors="replace"),
                list(letter.stored_tables),
                letter.value.decode(errors="replace"),
            )
            for letter in letters
        ]
        batch = TableBatch.from_rows(DEAD_LETTER_TABLE, _TABLE_COLUMNS, rows)
        await self._storage.insert(batch, f"dead-letters/{letters[0].letter_id}/{len(letters)}")
        self.sent += len(letters)
