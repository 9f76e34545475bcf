"""The query API's only door to ClickHouse: a small pool of clients used from worker threads.

Every statement is parameterised (``{name:Type}`` server-side binding, never string formatting of values)
and timed into the ``query_api_clickhouse_seconds`` histogram. Each client runs one statement at a time, so
an HTTP server's session rules and chDB's synchronous client are both respected; the pool bounds how many
statements one process runs at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import OperationalError

from plumbing.clickhouse import StoreHeldError
from query_api.metrics import QueryMetrics

log = logging.getLogger(__name__)
_TABLE = re.compile(r"\b(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()", re.IGNORECASE)
T = TypeVar("T")
_statements: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("statements", default=None)


def tables_of(sql: str) -> set[str]:
    """Tables a statement reads (``FROM`` / ``JOIN`` targets that are neither subqueries nor functions)."""
    return set(_TABLE.findall(sql))


@contextmanager
def recording_statements() -> Iterator[list[str]]:
    """Collect the SQL of every statement run in this context (tests assert which tables serve a route)."""
    recorded: list[str] = []
    token = _statements.set(recorded)
    try:
        yield recorded
    finally:
        _statements.reset(token)


UNAVAILABLE_MESSAGE = "ClickHouse is unavailable; try again shortly"
HELD_MESSAGE = (
    "the embedded ClickHouse store is held by another process (chDB allows one process per data "
    "directory, e.g. a worker or `analytics dev` on the same store); try again once it stopped"
)
HELD_LOG_EVERY_S = 60.0


class StoreUnavailable(Exception):
    """ClickHouse cannot be reached (connection refused, timed out) or the embedded store is held by
    another process: the API answers 503 with ``public_message`` (safe to show a client: no driver text,
    no paths), not 500. ``str(exc)`` keeps the driver's detail for logs."""

    def __init__(self, detail: str, public_message: str = UNAVAILABLE_MESSAGE) -> None:
        super().__init__(detail)
        self.public_message = public_message


class QueryStore:
    def __init__(self, open_client: Callable[[], Client], metrics: QueryMetrics, pool_size: int = 4) -> None:
        self._open_client = open_client
        self._metrics = metrics
        self._pool_size = pool_size
        self._idle: asyncio.Queue[Client] | None = None
        self._all: list[Client] = []
        self._opening = 0
        self._held_logged_at = -HELD_LOG_EVERY_S

    def _pool(self) -> asyncio.Queue[Client]:
        if self._idle is None:
            self._idle = asyncio.Queue()
        return self._idle

    async def _acquire(self) -> Client:
        """An idle client, a new one while the pool is below its size, else wait for one to come back."""
        idle = self._pool()
        if idle.empty() and len(self._all) + self._opening < self._pool_size:
            self._opening += 1  # counted before the await, so a burst cannot open more than the pool size
            try:
                client = await asyncio.to_thread(self._open_client)
            finally:
                self._opening -= 1
            self._all.append(client)
            return client
        return await idle.get()

    async def rows(self, sql: str, parameters: dict[str, Any] | None = None) -> Sequence[Sequence[Any]]:
        """Run one read statement, timed into the ClickHouse latency histogram."""
        recorded = _statements.get()
        if recorded is not None:
            recorded.append(sql)
        started = time.perf_counter()
        try:
            return await self.execute(lambda client: client.query(sql, parameters=parameters).result_rows)
        finally:
            self._metrics.clickhouse_latency.observe(time.perf_counter() - started)

    async def execute(self, call: Callable[[Client], T]) -> T:
        """Run ``call(client)`` with a pooled client; a failing client is replaced rather than reused, and
        an unreachable ClickHouse or an embedded store held by another process raises
        :class:`StoreUnavailable`."""
        try:
            client = await self._acquire()
        except StoreHeldError as exc:  # the operator must act: say so in the log, not on every request
            if time.monotonic() - self._held_logged_at >= HELD_LOG_EVERY_S:
                self._held_logged_at = time.monotonic()
                log.error("query API cannot read: %s", exc)
            raise StoreUnavailable(str(exc), HELD_MESSAGE) from exc
        except OperationalError as exc:
            raise StoreUnavailable(str(exc)) from exc
        healthy = False
        try:
            result = await asyncio.to_thread(call, client)
            healthy = True
            return result
        except OperationalError as exc:
            raise StoreUnavailable(str(exc)) from exc
        finally:
            if healthy:
                self._pool().put_nowait(client)
            else:
                self._all.remove(client)
                await asyncio.to_thread(_close_quietly, client)

    async def ping(self) -> bool:
        try:
            rows = await self.rows("SELECT 1")
        except Exception:  # readiness: any failure means not ready
            return False
        return bool(rows) and rows[0][0] == 1

    async def close(self) -> None:
        clients, self._all = self._all, []
        self._idle = None
        for client in clients:
            await asyncio.to_thread(_close_quietly, client)


def _close_quietly(client: Client) -> None:
    try:
        client.close()
    except Exception:  # a broken client may fail to close; it is dropped either way
        return
