"""Storing a batch's tables so that rows ClickHouse can never take do not stop the rest (ADR 0013).

The tables of a batch are inserted in order, each with its deduplication token. When one insert raises
:class:`~plumbing.storage.StoreDataError`, the tables before it hold every event of the batch
already; the events are split in halves and each half is stored again from the failing table on, with
tokens of its own, until the failing events stand alone. They are returned (with the error and the tables
that hold them already) to be dead-lettered; every other event is stored once.

The split is deterministic (same events, same errors → same halves, same tokens), so a batch re-formed
after a crash in the middle of a split repeats exactly the inserts that may have got through, and
ClickHouse drops them. A data error costs ``O(k log n)`` inserts for ``k`` bad events among ``n``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from plumbing.storage import StoreDataError
from schemas.rows import TableBatch


class Inserter(Protocol):
    """What is stored through: :class:`~plumbing.storage.Storage`, or a wrapper that meters it."""

    async def insert(self, batch: TableBatch, token: str) -> None:
        """Insert ``batch`` deduplicated by ``token``; raises :class:`StoreDataError` for rows at fault."""
        ...


TablesFor = Callable[[Sequence[Any]], list[TableBatch]]
TokenFor = Callable[[str, str], str]
"""``(split path, table) -> insert deduplication token``; the path is ``""`` for the whole batch."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Event ``index`` (of the events given) was refused by the store."""

    index: int
    error: str
    stored_tables: tuple[str, ...]


async def store_isolating(
    storage: Inserter,
    events: Sequence[Any],
    tables_for: TablesFor,
    token_for: TokenFor,
    *,
    path: str = "",
    stored: frozenset[str] = frozenset(),
) -> list[Refusal]:
    """Insert the tables of ``events`` except those in ``stored``; return the events the store refused.

    Retries while the store is unavailable (:meth:`Storage.insert`), so it returns only when every event
    is either stored or refused."""
    if not events:
        return []
    tables = tables_for(events)
    for position, table in enumerate(tables):
        if table.table in stored:
            continue
        try:
            await storage.insert(table, token_for(path, table.table))
        except StoreDataError as exc:
            held = stored | {t.table for t in tables[:position]}
            if len(events) == 1:
                return [Refusal(0, str(exc), tuple(sorted(held)))]
            middle = len(events) // 2
            left = await store_isolating(
                storage, events[:middle], tables_for, token_for, path=f"{path}a", stored=held
            )
            right = await store_isolating(
                storage, events[middle:], tables_for, token_for, path=f"{path}b", stored=held
            )
            return [*left, *(Refusal(r.index + middle, r.error, r.stored_tables) for r in right)]
    return []
