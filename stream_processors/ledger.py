"""Client retries counted once (ADR 0013): the ledger of event ids that clients chose.

An event whose id came from the client (its ``id`` field or an ``Idempotency-Key``: ``client_keyed``) may
reach a topic twice: the gateway answered 503 because Kafka did not confirm in time, yet the first copy
got through, and the client sent the same ids again. Each copy is its own Kafka message, so the insert
deduplication tokens of ADR 0004 (keyed on offsets) do not see the repeat.

Per consumer group, the ledger remembers the *first* delivery (``source``: topic/partition/offset) of each
client-chosen id for :data:`WINDOW`. An event is a repeat when the ledger holds its id (same tenant) from
another source, or an earlier event of the same batch had it. The ledger is written after the batch's
tables, so a dead-lettered event is never in it (its replay is stored), and a re-formed batch finds its
own sources and keeps exactly the events it kept the first time. Server-chosen ids (UUIDv7 stamped by the
gateway) cannot repeat and are never looked up, so traffic without client ids pays nothing; but a
replayed dead letter counts as keyed (the ``dlq replay`` command may produce a letter twice if it dies
between producing and committing its progress).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from plumbing.storage import Storage
from schemas.rows import TableBatch

LEDGER_TABLE = "event_id_ledger"
LOOKUP_TABLE = "event_id_lookups"
WINDOW = timedelta(days=7)
"""How long a client-chosen id is remembered: a retry later than this after the first receipt counts again."""
_COLUMNS = ["consumer_group", "tenant_id", "id", "source", "received_at"]
_LOOKUP = (
    f"SELECT tenant_id, id, source FROM {LEDGER_TABLE} "
    "WHERE consumer_group = {{group:String}} "
    f"AND id IN (SELECT id FROM {LOOKUP_TABLE} WHERE lookup = {{{{lookup:String}}}}) "
    "AND received_at >= now64(3) - INTERVAL {days} DAY"
).format(days=WINDOW.days)


Keyed = tuple[str, Any, bool]
"""``(source, event, keyed)``: where an event was delivered (empty when it cannot repeat: never read), the
event, whether its id may repeat."""


def source_of(topic: str, partition: int, offset: int) -> str:
    """The ledger's name of one delivery."""
    return f"{topic}/{partition}/{offset}"


class EventLedger:
    """Filters repeats out of a batch and records the ids a batch stored (store calls retry as usual)."""

    def __init__(self, storage: Storage, consumer_group: str) -> None:
        self._storage = storage
        self._group = consumer_group

    async def first_deliveries(self, events: Sequence[Keyed]) -> list[bool]:
        """For each ``(source, event, keyed)`` in delivery order: whether it is the first delivery of its id.

        Events that are not ``keyed`` (server-chosen ids) are always first."""
        keys = [(event.tenant_id, event.id) if keyed else None for _, event, keyed in events]
        asked = list({key[1] for key in keys if key is not None})
        if not asked:
            return [True] * len(events)
        # the ids go in as rows of their own lookup: as a query parameter they cost far more to parse
        lookup = uuid.uuid4().hex
        await self._storage.insert(
            TableBatch(LOOKUP_TABLE, ["lookup", "id"], [[lookup] * len(asked), asked]), f"lookup/{lookup}"
        )
        rows = await self._storage.query(_LOOKUP, {"group": self._group, "lookup": lookup})
        known = {(tenant, event_id): source for tenant, event_id, source in rows}
        seen: set[tuple[str, Any]] = set()
        firsts: list[bool] = []
        for (source, _, _), key in zip(events, keys, strict=True):
            if key is None:
                firsts.append(True)
                continue
            recorded = known.get(key)
            firsts.append(key not in seen and (recorded is None or recorded == source))
            seen.add(key)
        return firsts

    async def record(self, events: Sequence[Keyed], token: str) -> None:
        """Remember the keyed ids of stored ``(source, event, keyed)`` triples (a deduplicated insert)."""
        kept = [(source, event) for source, event, keyed in events if keyed]
        if not kept:
            return
        columns = [
            [self._group] * len(kept),
            [event.tenant_id for _, event in kept],
            [event.id for _, event in kept],
            [source for source, _ in kept],
            [event.received_at for _, event in kept],
        ]
        await self._storage.insert(TableBatch(LEDGER_TABLE, _COLUMNS, columns), token)
