"""Short-lived result cache for dashboard-class endpoints (cachetools ``TTLCache``: bounded, expiring).

Keyed by tenant, user, endpoint and period parameters. Concurrent misses on one key share one computation
(single flight), so a dashboard opened by many tabs at once runs its statements once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from cachetools import TTLCache

from query_api.metrics import QueryMetrics


class ResultCache:
    def __init__(self, metrics: QueryMetrics, max_entries: int = 2048, ttl_s: float = 5.0) -> None:
        self._entries: TTLCache[Hashable, Any] = TTLCache(maxsize=max_entries, ttl=ttl_s)
        self._in_flight: dict[Hashable, asyncio.Future[Any]] = {}
        self._metrics = metrics
        self.ttl_s = ttl_s

    async def get_or_compute(self, key: Hashable, compute: Callable[[], Awaitable[Any]]) -> Any:
        if self.ttl_s <= 0:
            return await compute()
        try:
            value = self._entries[key]
        except KeyError:
            pass
        else:
            self._metrics.cache.labels("hit").inc()
            return value
        pending = self._in_flight.get(key)
        if pending is not None:
            self._metrics.cache.labels("hit").inc()
            return await asyncio.shield(pending)
        self._metrics.cache.labels("miss").inc()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            value = await compute()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            del self._in_flight[key]
        future.set_result(value)
        self._entries[key] = value
        return value
