"""ClickHouse access for the workers: one client, calls off the event loop, retried until they succeed.

Contract: :meth:`Storage.run` returns only when the call succeeded. While ClickHouse is unavailable it
retries with capped exponential backoff (reopening the client), so the batch being written is neither
dropped nor acknowledged and the Kafka offsets stay put; the worker resumes by itself.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.insert import InsertContext

from stream_processors.transforms import TableBatch

log = logging.getLogger(__name__)
T = TypeVar("T")

DEDUP_SETTINGS = {"deduplicate_blocks_in_dependent_materialized_views": 1, "insert_deduplicate": 1}


class Storage:
    def __init__(self, open_client: Callable[[], Client], retry_max_s: float = 30.0) -> None:
        self._open_client = open_client
        self._retry_max_s = retry_max_s
        self._client: Client | None = None
        self._contexts: dict[tuple[str, tuple[str, ...]], InsertContext] = {}
        self._lock = threading.Lock()
        self.failures = 0

    def _client_now(self) -> Client:
        if self._client is None:
            self._client = self._open_client()
            self._contexts.clear()
        return self._client

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        self._contexts.clear()
        if client is not None:
            try:
                client.close()
            except Exception:  # closing a broken client may fail too; it is gone either way
                log.debug("closing a failed ClickHouse client raised", exc_info=True)

    def _locked(self, call: Callable[[Client], T]) -> T:
        with self._lock:
            try:
                return call(self._client_now())
            except Exception:
                self._drop_client()
                raise

    async def run(self, call: Callable[[Client], T], what: str) -> T:
        """Run ``call(client)`` in a thread until it succeeds."""
        delay = 0.2
        while True:
            try:
                return await asyncio.to_thread(self._locked, call)
            except Exception as exc:  # any failure: the batch stays unacknowledged, we try again
                self.failures += 1
                log.warning(
                    "ClickHouse %s failed (%s: %s); retrying in %.1fs", what, type(exc).__name__, exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max_s)

    async def insert(self, batch: TableBatch, token: str) -> None:
        """Insert ``batch`` with ``insert_deduplication_token=token`` (also for dependent views)."""
        if batch.row_count == 0:
            return

        def call(client: Client) -> None:
            key = (batch.table, tuple(batch.columns))
            context = self._contexts.get(key)
            if context is None:
                context = client.create_insert_context(
                    batch.table, column_names=batch.columns, column_oriented=True
                )
                self._contexts[key] = context
            context.settings.update(DEDUP_SETTINGS)
            context.settings["insert_deduplication_token"] = token
            client.insert(data=batch.data, context=context)

        await self.run(call, f"insert into {batch.table}")

    async def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        def call(client: Client) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in client.query(sql, parameters=parameters).result_rows]

        return await self.run(call, "query")

    def close(self) -> None:
        with self._lock:
            self._drop_client()
