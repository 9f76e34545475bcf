"""Test doubles for the pipeline's own interfaces (never for ClickHouse or Kafka themselves)."""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from datetime import date
from typing import Any

from schemas.messages import encode_batch
from schemas.rows import TableBatch
from stream_processors.dead_letters import DeadLetter
from stream_processors.pipeline import BatchWriter, Delivery

POISON_USER = "user_poison"


class RecordingDeadLetters:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        self.letters.extend(letters)


class InMemoryLog:
    """A partitioned log of envelope messages, as the gateway would have produced them."""

    def __init__(self, topic: str, partitions: int = 3) -> None:
        self.topic = topic
        self.partitions: list[list[Delivery]] = [[] for _ in range(partitions)]

    def append_events(
        self, events: list[dict[str, Any]], rng: random.Random, max_per_message: int = 20
    ) -> None:
        index = 0
        while index < len(events):
            size = rng.randint(1, max_per_message)
            chunk = events[index : index + size]
            index += size
            by_partition: dict[int, list[dict[str, Any]]] = {}
            for event in chunk:
                # a stable hash (not hash(), which changes per process): the same log in every run
                partition = zlib.crc32(event["user_id"].encode()) % len(self.partitions)
                by_partition.setdefault(partition, []).append(event)
            for partition, group in by_partition.items():
                self.append_raw(partition, encode_batch(group))

    def append_raw(self, partition: int, value: bytes) -> None:
        log = self.partitions[partition]
        log.append(Delivery(self.topic, partition, len(log), value))

    async def read(self, topic: str, partition: int, first: int, last: int) -> list[Delivery]:
        return self.partitions[partition][first : last + 1]

    def chunks(self, start: dict[int, int], rng: random.Random, max_chunk: int) -> list[list[Delivery]]:
        """Deliveries from ``start`` offsets on, interleaved across partitions in random-size chunks."""
        cursors = dict(start)
        chunks = []
        while any(cursors[p] < len(self.partitions[p]) for p in cursors):
            chunk: list[Delivery] = []
            for _ in range(rng.randint(1, max_chunk)):
                live = [p for p in cursors if cursors[p] < len(self.partitions[p])]
                if not live:
                    break
                p = rng.choice(live)
                chunk.append(self.partitions[p][cursors[p]])
                cursors[p] += 1
            chunks.append(chunk)
        return chunks


class RefusingWriter(BatchWriter):
    """A rollups writer whose feed rows for :data:`POISON_USER` carry a bucket ClickHouse cannot store
    (a ``Date`` before 1970): a real data error from the real store, standing for any row-level bug."""

    broken = True

    def tables(self, events: Sequence[Any]) -> list[TableBatch]:
        batches = super().tables(events)
        if not self.broken:
            return batches
        out = []
        for batch in batches:
            if "week" in batch.columns:
                users = batch.data[batch.columns.index("user_id")]
                weeks = list(batch.data[batch.columns.index("week")])
                for i, user in enumerate(users):
                    if user == POISON_USER:
                        weeks[i] = date(1969, 12, 29)
                data = list(batch.data)
                data[batch.columns.index("week")] = weeks
                batch = TableBatch(batch.table, batch.columns, data)
            out.append(batch)
        return out
