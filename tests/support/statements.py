"""Which statements the query API runs and which tables they read: tests assert the tables serving a route."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from unittest import mock

from query_api.store import QueryStore

_TABLE = re.compile(r"\b(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()", re.IGNORECASE)
_recording: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("statements", default=None)


def tables_of(sql: str) -> set[str]:
    """Tables a statement reads (``FROM`` / ``JOIN`` targets that are neither subqueries nor functions)."""
    return set(_TABLE.findall(sql))


@contextmanager
def recording_statements() -> Iterator[list[str]]:
    """Collect the SQL of every statement :meth:`QueryStore.rows` runs in this context (tasks started
    inside it included, other tasks not; the innermost of nested contexts gets them)."""
    recorded: list[str] = []
    token = _recording.set(recorded)
    try:
        if getattr(QueryStore.rows, "records_statements", False):  # an outer context patched it already
            yield recorded
        else:
            with mock.patch.object(QueryStore, "rows", _recording_rows(QueryStore.rows)):
                yield recorded
    finally:
        _recording.reset(token)


Rows = Callable[[QueryStore, str, "dict[str, Any] | None"], Awaitable[Sequence[Sequence[Any]]]]


def _recording_rows(rows: Rows) -> Rows:
    async def recording(
        store: QueryStore, sql: str, parameters: dict[str, Any] | None = None
    ) -> Sequence[Sequence[Any]]:
        statements = _recording.get()
        if statements is not None:
            statements.append(sql)
        return await rows(store, sql, parameters)

    recording.records_statements = True  # type: ignore[attr-defined]
    return recording
