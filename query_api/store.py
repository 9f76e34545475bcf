"""The query API's only door to ClickHouse: a small pool of clients used from worker threads.

Every statement is parameterised (``{name:Type}`` server-side binding, never string formatting of values)
and timed into the ``analytics_query_clickhouse_duration_seconds`` histogram. Each client runs one statement
at a time, so an HTTP server's session rules and chDB's synchronous client are both respected; the pool
bounds how many statements one process runs at once.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import OperationalError

from plumbing.clickhouse import ClientHolder, StoreHeldError
from query_api.metrics import QueryMetrics

log = logging.getLogger(__name__)
T = TypeVar("T")


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


class _Pool:
    """The holders of a store and of its :meth:`QueryStore.tuned` views: one bound on statements at once."""

    def __init__(self, holders: list[ClientHolder]) -> None:
        self.holders = holders
        self.idle: asyncio.LifoQueue[ClientHolder] | None = None
        self.held_logged_at = -HELD_LOG_EVERY_S
        self.views: dict[tuple[tuple[str, Any], ...], QueryStore] = {}
        """the tuned views made so far, by their settings: made once, not on every request"""


class QueryStore:
    """A pool of ``pool_size`` :class:`ClientHolder`: each opens its client on first use and reopens it
    after a failed statement (the reconnect path every store shares)."""

    def __init__(self, open_client: Callable[[], Client], metrics: QueryMetrics, pool_size: int = 4) -> None:
        self._metrics = metrics
        self._shared = _Pool([ClientHolder(open_client) for _ in range(pool_size)])
        self._settings: dict[str, Any] = {}

    def tuned(self, settings: Mapping[str, Any]) -> QueryStore:
        """This store, its statements run with the ClickHouse ``settings`` (over any it has): same pool, same
        clients, same bound on statements at once."""
        merged = {**self._settings, **settings}
        key = tuple(sorted(merged.items()))
        view = self._shared.views.get(key)
        if view is None:
            view = copy.copy(self)
            view._settings = merged
            self._shared.views[key] = view
        return view

    def _pool(self) -> asyncio.LifoQueue[ClientHolder]:
        """The idle holders, the last one given back on top: an open client is reused before another is
        opened, so a process opens a second client only when two statements run at once."""
        if self._shared.idle is None:
            self._shared.idle = asyncio.LifoQueue()
            for holder in reversed(self._shared.holders):
                self._shared.idle.put_nowait(holder)
        return self._shared.idle

    async def rows(self, sql: str, parameters: dict[str, Any] | None = None) -> Sequence[Sequence[Any]]:
        """Run one read statement (with the store's settings), timed into the ClickHouse latency histogram."""
        settings = self._settings or None
        started = time.perf_counter()
        try:
            return await self.execute(
                lambda client: client.query(sql, parameters=parameters, settings=settings).result_rows
            )
        finally:
            self._metrics.clickhouse_latency.observe(time.perf_counter() - started)

    async def execute(self, call: Callable[[Client], T]) -> T:
        """Run ``call(client)`` with a pooled client (waiting for an idle one while all are busy); an
        unreachable ClickHouse or an embedded store held by another process raises
        :class:`StoreUnavailable`, any other failure is raised as it is.

        The holder goes back to the pool even when the awaiting task is cancelled: its lock makes the next
        statement wait for the abandoned one in its thread, so no more than ``pool_size`` statements run."""
        idle = self._pool()
        holder = await idle.get()
        try:
            return await asyncio.to_thread(holder.call, call)
        except StoreHeldError as exc:  # the operator must act: say so in the log, not on every request
            if time.monotonic() - self._shared.held_logged_at >= HELD_LOG_EVERY_S:
                self._shared.held_logged_at = time.monotonic()
                log.error("query API cannot read: %s", exc)
            raise StoreUnavailable(str(exc), HELD_MESSAGE) from exc
        except OperationalError as exc:
            raise StoreUnavailable(str(exc)) from exc
        finally:
            idle.put_nowait(holder)

    async def close(self) -> None:
        """Close every client (after the statement it runs, if any); the store opens them again if used."""
        self._shared.idle = None
        for holder in self._shared.holders:
            await asyncio.to_thread(holder.close)
