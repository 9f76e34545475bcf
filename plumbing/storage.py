"""ClickHouse access for the workers: one client, calls off the event loop, retried until they succeed.

Failure model (ADR 0013): every failure is either *unavailable* or *data*.

- Unavailable (connection refused, timeouts, too many parts, memory, a table not migrated yet, anything we
  do not recognise): :meth:`Storage.run` retries with capped, jittered exponential backoff
  (:mod:`plumbing.retry`), reopening the client, so the batch being written is neither dropped nor
  acknowledged and the Kafka offsets stay put; the worker resumes by itself.
- Data (the rows themselves can never be stored: a value out of a column type's range, unparsable input):
  :meth:`Storage.insert` raises :class:`StoreDataError` at once, and the caller isolates the offending
  events (:mod:`stream_processors.isolation`). Retrying would stall the partition forever.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, DataError
from clickhouse_connect.driver.insert import InsertContext

from plumbing.clickhouse import ClientHolder
from plumbing.retry import retry_until_done
from schemas.rows import TableBatch

log = logging.getLogger(__name__)
T = TypeVar("T")

DEDUP_SETTINGS = {
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    "insert_deduplicate": 1,
    "insert_distributed_sync": 1,
}
"""Every insert's settings. The last one (``distributed_foreground_insert``'s older name, known to every
supported server) matters on a cluster only (ADR 0019): an insert into a ``Distributed`` table returns once
every shard holds its rows, so a failure reaches the retry with the same token instead of being queued."""

DATA_ERROR_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        131,  # TOO_LARGE_STRING_SIZE
        190,  # SIZES_OF_ARRAYS_DONT_MATCH
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        407,  # DECIMAL_OVERFLOW
    }
)
"""Server error codes that say the inserted rows are at fault, not the server: the same rows fail again."""
_CODE = re.compile(r"Code: (\d+)\.")


class StoreDataError(Exception):
    """The rows of an insert can never be stored (retrying cannot help); the message says why."""


def is_data_error(exc: BaseException) -> bool:
    """Whether ``exc``, raised by an insert, blames the rows rather than the store.

    clickhouse-connect raises ``DataError`` when it cannot serialize a value into its column type (a
    ``Date`` before 1970, a negative ``UInt``); the server answers a parse or range error with one of
    :data:`DATA_ERROR_CODES`; Python's ``TypeError``/``ValueError``/``OverflowError`` from serialization
    mean a value of the wrong kind. Anything else is taken as the store being unavailable.
    """
    if isinstance(exc, DataError | TypeError | ValueError | OverflowError):
        return True
    if isinstance(exc, DatabaseError):
        match = _CODE.search(str(exc))
        return match is not None and int(match.group(1)) in DATA_ERROR_CODES
    return False


class Storage:
    """The workers' and jobs' store: ``connections`` :class:`ClientHolder` (each reopened after a failed
    call), calls run in a thread on whichever is idle and retried by
    :func:`plumbing.retry.retry_until_done` (capped at ``retry_max_s``).

    One connection runs one call at a time. A worker gives its store two, so one partition's batch is
    inserted while another's waits on its intent or its ledger lookup: the engine runs calls of different
    connections at once (chDB as a server does), and its work releases the GIL. Callers that need an order
    await their calls one after the other, as a batch's steps do."""

    def __init__(
        self, open_client: Callable[[], Client], retry_max_s: float = 30.0, connections: int = 1
    ) -> None:
        if connections < 1:
            raise ValueError("a store needs at least one connection")
        self._open_client = open_client
        self._retry_max_s = retry_max_s
        self._holders = [ClientHolder(self._open) for _ in range(connections)]
        self._idle: queue.LifoQueue[ClientHolder] = queue.LifoQueue()
        for holder in reversed(self._holders):
            self._idle.put(holder)
        self._contexts: dict[tuple[int, str, tuple[str, ...]], InsertContext] = {}
        self.failures = 0
        self.failing_since: float | None = None
        """Monotonic time of the first failure of the current run of failures (``None``: the last call
        succeeded): how long the store has been unavailable, for readiness."""

    def _open(self) -> Client:
        self._contexts.clear()  # insert contexts belong to the client that made them
        return self._open_client()

    def _call(self, call: Callable[[Client], T]) -> T:
        """Blocking: ``call`` on an idle connection (waiting for one: a thread-safe queue, so the store
        works from any event loop and from none)."""
        holder = self._idle.get()
        try:
            return holder.call(call)
        finally:
            self._idle.put(holder)

    async def run(
        self, call: Callable[[Client], T], what: str, give_up: Callable[[Exception], bool] | None = None
    ) -> T:
        """Run ``call(client)`` in a thread until it succeeds, or until ``give_up(exc)`` says to stop
        (then ``exc`` is raised). Cancelling the awaiting task stops the retries."""

        def retrying(exc: Exception, wait_s: float) -> None:
            self.failures += 1
            if self.failing_since is None:
                self.failing_since = time.monotonic()
            log.warning(
                "ClickHouse %s failed (%s: %s); retrying in %.1fs", what, type(exc).__name__, exc, wait_s
            )

        result = await retry_until_done(
            lambda: asyncio.to_thread(self._call, call),
            self._retry_max_s,
            on_retry=retrying,
            give_up=give_up,
        )
        self.failing_since = None
        return result

    async def insert(self, batch: TableBatch, token: str) -> None:
        """Insert ``batch`` with ``insert_deduplication_token=token`` (also for dependent views).

        Retries while the store is unavailable; raises :class:`StoreDataError` when the rows are at fault."""
        if batch.row_count == 0:
            return

        def call(client: Client) -> None:
            key = (id(client), batch.table, tuple(batch.columns))
            context = self._contexts.get(key)
            if context is None:
                context = client.create_insert_context(
                    batch.table, column_names=batch.columns, column_oriented=True
                )
                self._contexts[key] = context
            context.settings.update(DEDUP_SETTINGS)
            context.settings["insert_deduplication_token"] = token
            client.insert(data=batch.data, context=context)

        try:
            await self.run(call, f"insert into {batch.table}", give_up=is_data_error)
        except Exception as exc:
            if is_data_error(exc):
                raise StoreDataError(f"{batch.table}: {type(exc).__name__}: {exc}") from exc
            raise

    async def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        def call(client: Client) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in client.query(sql, parameters=parameters).result_rows]

        return await self.run(call, "query")

    def close(self) -> None:
        for holder in self._holders:
            holder.close()
