"""Short-lived result cache for dashboard-class endpoints (cachetools ``TTLCache``: bounded, expiring).

Keyed by tenant, user, endpoint and period parameters. Concurrent misses on one key share one computation
(single flight), so a dashboard opened by many tabs at once runs its statements once.

With ``serve_stale_s``, a value past its TTL is still answered for that long while one background task
computes the new one (stale-while-revalidate). The tenant-wide aggregates use it: they read every user's
rows of the tenant, which takes long on a large tenant (ADR 0005), and without it the first dashboard after
each expiry waited for that read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from cachetools import TTLCache

from query_api.metrics import QueryMetrics

log = logging.getLogger(__name__)


class ResultCache:
    def __init__(
        self,
        metrics: QueryMetrics | None,
        max_entries: int = 2048,
        ttl_s: float = 5.0,
        serve_stale_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: TTLCache[Hashable, tuple[Any, float]] = TTLCache(
            maxsize=max_entries, ttl=ttl_s + serve_stale_s, timer=clock
        )
        self._in_flight: dict[Hashable, asyncio.Future[Any]] = {}
        self._refreshing: set[asyncio.Task[None]] = set()
        self._lookups = None if metrics is None else metrics.cache
        """counted by outcome (``None``: a cache of something else than results, left out of the metric)"""
        self._clock = clock
        self.ttl_s = ttl_s

    async def get_or_compute(self, key: Hashable, compute: Callable[[], Awaitable[Any]]) -> Any:
        if self.ttl_s <= 0:
            return await compute()
        entry = self._entries.get(key)
        if entry is not None:
            value, computed_at = entry
            if self._clock() - computed_at >= self.ttl_s:  # kept past its TTL: answer it, refresh it
                self._count("stale")
                self._refresh(key, compute)
            else:
                self._count("hit")
            return value
        pending = self._in_flight.get(key)
        if pending is not None:
            self._count("hit")
            return await asyncio.shield(pending)
        self._count("miss")
        return await self._compute(key, compute, self._claim(key))

    def _count(self, outcome: str) -> None:
        if self._lookups is not None:
            self._lookups.labels(outcome).inc()

    def _claim(self, key: Hashable) -> asyncio.Future[Any]:
        """Mark ``key`` as being computed; later callers wait for this future instead of computing."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        return future

    async def _compute(
        self, key: Hashable, compute: Callable[[], Awaitable[Any]], future: asyncio.Future[Any]
    ) -> Any:
        """Compute ``key`` once for every concurrent caller, then keep it."""
        try:
            value = await compute()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            del self._in_flight[key]
        future.set_result(value)
        self._entries[key] = (value, self._clock())
        return value

    def _refresh(self, key: Hashable, compute: Callable[[], Awaitable[Any]]) -> None:
        if key in self._in_flight:
            return
        future = self._claim(key)

        async def refresh() -> None:
            try:
                await self._compute(key, compute, future)
            except Exception:  # the stale value stays until it expires; the next lookup tries again
                log.warning("refreshing a cached result failed", exc_info=True)

        task = asyncio.create_task(refresh())
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)
