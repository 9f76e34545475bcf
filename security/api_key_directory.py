"""What a gateway process checks ``X-API-Key`` against: every tenant's active keys, in memory.

Gateways never query ClickHouse per request: each process holds an :class:`ApiKeyDirectory`, a snapshot of
the active keys (:func:`security.api_key_store.active_keys`) refreshed every ``refresh_s`` (5 s,
``ANALYTICS_GATEWAY_API_KEY_REFRESH_S``), so a revoked key stops working on every process within
``refresh_s`` plus one refresh's duration.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from clickhouse_connect.driver.client import Client

from plumbing.clickhouse import ClientHolder
from plumbing.snapshot import PeriodicSnapshot, in_thread
from security.api_key_store import ActiveKey, active_keys
from security.api_keys import ApiKeyIdentity, parse_key, secret_matches

DEFAULT_REFRESH_S = 5.0
EARLY_REFRESH_INTERVAL_S = 1.0


class ApiKeyDirectory:
    """The active keys of every tenant, in memory, for O(1) synchronous checks on the request path.

    Contract:
    - :meth:`run` refreshes the snapshot every ``refresh_s`` (a :class:`~plumbing.snapshot.PeriodicSnapshot`);
      each refresh reads ClickHouse in a worker thread through one client made by ``client_factory`` (made
      lazily, remade after an error). A failed refresh keeps the last good snapshot and logs a warning
      (once per run of failures); before the first good one every key is refused (fails closed).
    - A revoked key stops working within ``refresh_s`` plus one refresh's duration.
    - A well-formed key whose id is not in the snapshot starts an early refresh, at most one per
      ``early_refresh_interval_s`` counted from the last refresh of any kind, so a key created a moment
      ago works after one early refresh, yet junk keys cannot hammer ClickHouse.
    - :meth:`lookup` and :meth:`authenticate` are called on the event loop thread.
    """

    def __init__(
        self,
        client_factory: Callable[[], Client],
        *,
        refresh_s: float = DEFAULT_REFRESH_S,
        early_refresh_interval_s: float = EARLY_REFRESH_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = ClientHolder(client_factory)
        self._keys: PeriodicSnapshot[dict[str, ActiveKey]] = PeriodicSnapshot(
            in_thread(lambda: self._reader.call(active_keys)),
            {},
            what="API keys",
            interval_s=refresh_s,
            early_interval_s=early_refresh_interval_s,
            until_loaded="no keys loaded yet",
            clock=clock,
        )

    @property
    def refresh_s(self) -> float:
        return self._keys.interval_s

    @property
    def loaded(self) -> bool:
        """At least one refresh succeeded (what a readiness probe may ask)."""
        return self._keys.loaded

    @property
    def snapshot_age_s(self) -> float | None:
        return self._keys.age_s

    @property
    def _early_task(self) -> asyncio.Task[bool] | None:
        """The early refresh a lookup started last (tests wait for it)."""
        return self._keys.early_task

    def __len__(self) -> int:
        return len(self._keys.value)

    def lookup(self, presented: str) -> ApiKeyIdentity | None:
        """The identity of a valid, active key, else ``None``; never blocks and never raises.

        The key id is public, so finding it by dict lookup leaks nothing; the secret is compared in
        constant time.
        """
        parsed = parse_key(presented)
        if parsed is None:
            return None
        entry = self._keys.value.get(parsed.key_id)
        if entry is None:
            self._keys.refresh_early()
            return None
        return entry.identity if secret_matches(parsed.secret, entry.secret_hash) else None

    async def authenticate(self, presented: str) -> ApiKeyIdentity | None:
        """:meth:`lookup`, but an unknown key id waits for the early refresh it starts (or the one
        running), so a key created a moment ago works on its first request."""
        parsed = parse_key(presented)
        if parsed is None:
            return None
        if parsed.key_id not in self._keys.value:
            await self._keys.catch_up()
        entry = self._keys.value.get(parsed.key_id)
        if entry is None or not secret_matches(parsed.secret, entry.secret_hash):
            return None
        return entry.identity

    async def refresh(self) -> bool:
        """Replace the snapshot with the active keys in ClickHouse; ``False`` (snapshot kept) on failure."""
        return await self._keys.refresh()

    async def run(self) -> None:
        """Refresh now and then every ``refresh_s`` until cancelled."""
        await self._keys.run()

    async def close(self) -> None:
        """Stop a running early refresh and close the client (cancel :meth:`run`'s task first)."""
        await self._keys.stop()
        await asyncio.to_thread(self._reader.close)
