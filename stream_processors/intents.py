"""Durable batch intents (ADR 0004): the exactly-once anchor of the workers.

Before a batch of one partition is inserted, ``(group, topic, partition, first_offset, last_offset)`` is
recorded. Offsets are committed only after every insert of the batch succeeded, so after any crash the
intents whose ``last_offset`` is at or past the committed offset are exactly the batches that may have been
(partly) inserted: the worker re-forms each of them from Kafka and inserts it again with the same
deduplication tokens, which ClickHouse drops where the first insert got through.
"""

from __future__ import annotations

from dataclasses import dataclass

from plumbing.storage import Storage
from schemas.rows import TableBatch

INTENT_TABLE = "stream_batch_intents"
_COLUMNS = ["consumer_group", "topic", "partition", "first_offset", "last_offset"]


@dataclass(frozen=True, slots=True)
class Intent:
    group: str
    topic: str
    partition: int
    first_offset: int
    last_offset: int

    def token(self, table: str, part: str = "") -> str:
        """The insert deduplication token of this batch's insert into ``table``; ``part`` names a part of
        the batch stored on its own (a split around refused rows, a replayed letter), ``""`` the whole."""
        batch = f"{self.group}/{self.topic}/{self.partition}/{self.first_offset}-{self.last_offset}"
        return f"{batch}/{part}/{table}" if part else f"{batch}/{table}"


class IntentLog:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def record(self, intent: Intent) -> None:
        row = (intent.group, intent.topic, intent.partition, intent.first_offset, intent.last_offset)
        batch = TableBatch.from_rows(INTENT_TABLE, _COLUMNS, [row])
        await self._storage.insert(batch, intent.token(INTENT_TABLE))

    async def open_since(self, group: str, topic: str, partition: int, offset: int) -> list[Intent]:
        """Intents of the partition ending at or after ``offset`` (the committed offset), by first offset."""
        rows = await self._storage.query(
            f"SELECT DISTINCT first_offset, last_offset FROM {INTENT_TABLE} "
            "WHERE consumer_group = {g:String} AND topic = {t:String} AND partition = {p:UInt32} "
            "AND last_offset >= {o:UInt64} ORDER BY first_offset",
            {"g": group, "t": topic, "p": partition, "o": offset},
        )
        return [Intent(group, topic, partition, int(first), int(last)) for first, last in rows]
