"""The query API's only door to ClickHouse: a small pool of clients used from worker threads.

Every statement is parameterised (``{name:Type}`` server-side binding, never string formatting of values)
and timed into the ``query_api_clickhouse_seconds`` histogram. Each client runs one statement at a time, so
an HTTP server's session rules and chDB's synchronous client are both respected; the pool bounds how many
statements one process runs at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import OperationalError

from query_api.metrics import QueryMetrics

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


class StoreUnavailable(Exception):
    """ClickHouse cannot be reached (connection refused, timed out): the API answers 503, not 500."""


class QueryStore:
    def __init__(self, open_client: Callable[[], Client], metrics: QueryMetrics, pool_size: int = 4) -> None:
        self._open_client = open_client
        self._metrics = metrics
        self._pool_size = pool_size
        self._idle: asyncio.Queue[Client] | None = None
        self._all: list[Client] = []
        self._opening = 0

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
        an unreachable ClickHouse raises :class:`StoreUnavailable`."""
        try:
            client = await self._acquire()
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
