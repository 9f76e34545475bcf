"""One reconnect path (plumbing.clickhouse.ClientHolder): a failed call closes and forgets its client and
the next call opens a fresh one, in the snapshot readers, the workers' Storage and the query API's pool."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DataError, OperationalError

from plumbing.clickhouse import ClientHolder
from plumbing.storage import Storage, StoreDataError
from query_api.metrics import QueryMetrics
from query_api.store import QueryStore, StoreUnavailable
from schemas.rows import TableBatch


class FakeClient:
    """Answers ``SELECT 1``; raises what ``failures`` holds, one per call, first."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.closed = False
        self.contexts = 0
        self.inserted: list[str] = []

    def _next(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    def query(self, sql: str, parameters: Any = None, settings: Any = None) -> Any:
        self._next()
        return type("Result", (), {"result_rows": [(1,)]})()

    def create_insert_context(self, table: str, **kwargs: Any) -> Any:
        self.contexts += 1
        return type("Context", (), {"settings": {}})()

    def insert(self, data: Any, context: Any) -> None:
        self._next()
        self.inserted.append(context.settings["insert_deduplication_token"])

    def close(self) -> None:
        self.closed = True


class Opener:
    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.failures = failures if failures is not None else []
        self.opened: list[FakeClient] = []

    def __call__(self) -> Client:
        client = FakeClient(self.failures)
        self.opened.append(client)
        return client  # type: ignore[return-value]


def select_one(client: Client) -> Any:
    return client.query("SELECT 1").result_rows


def test_a_failed_call_closes_its_client_and_the_next_one_opens_a_fresh_one() -> None:
    opener = Opener([OperationalError("connection reset")])
    holder = ClientHolder(opener)
    with pytest.raises(OperationalError):
        holder.call(select_one)
    assert len(opener.opened) == 1 and opener.opened[0].closed
    assert holder.call(select_one) == [(1,)]
    assert holder.call(select_one) == [(1,)]
    assert len(opener.opened) == 2 and not opener.opened[1].closed
    holder.close()
    assert opener.opened[1].closed


def test_a_client_that_cannot_be_opened_is_tried_again_on_the_next_call() -> None:
    attempts: list[int] = []

    def refusing() -> Client:
        attempts.append(1)
        if len(attempts) == 1:
            raise OperationalError("connection refused")
        return FakeClient([])  # type: ignore[return-value]

    holder = ClientHolder(refusing)
    with pytest.raises(OperationalError):
        holder.call(select_one)
    assert holder.call(select_one) == [(1,)] and len(attempts) == 2


async def test_storage_retries_an_unavailable_store_on_a_fresh_client_and_counts_the_outage() -> None:
    opener = Opener([OperationalError("refused"), OperationalError("refused")])
    storage = Storage(opener, retry_max_s=0.01)
    assert await storage.query("SELECT 1") == [(1,)]
    assert storage.failures == 2 and storage.failing_since is None
    assert len(opener.opened) == 3 and [c.closed for c in opener.opened] == [True, True, False]
    storage.close()
    assert opener.opened[-1].closed


async def test_storage_raises_a_data_error_at_once() -> None:
    opener = Opener([DataError("Date out of range")])
    storage = Storage(opener, retry_max_s=0.01)
    batch = TableBatch.from_rows("analytics_events", ["id"], [(1,)])
    with pytest.raises(StoreDataError, match="analytics_events: DataError"):
        await storage.insert(batch, "t1")
    assert storage.failures == 0 and storage.failing_since is None


async def test_insert_contexts_are_made_again_for_a_reopened_client() -> None:
    opener = Opener()
    storage = Storage(opener, retry_max_s=0.01)
    batch = TableBatch.from_rows("analytics_events", ["id"], [(1,)])
    await storage.insert(batch, "t1")
    await storage.insert(batch, "t2")
    assert opener.opened[0].contexts == 1
    opener.failures.append(OperationalError("connection reset"))
    await storage.insert(batch, "t3")
    assert len(opener.opened) == 2 and opener.opened[1].contexts == 1
    assert opener.opened[1].inserted == ["t3"]


async def test_storage_give_up_stops_the_retries_and_failing_since_tells_how_long_it_fails() -> None:
    opener = Opener([OperationalError("refused")] * 100)
    storage = Storage(opener, retry_max_s=0.01)
    with pytest.raises(OperationalError):
        await storage.run(select_one, "query", give_up=lambda exc: storage.failures >= 3)
    assert storage.failures == 3
    assert storage.failing_since is not None and storage.failing_since <= time.monotonic()


async def test_cancelling_a_retrying_storage_call_stops_it_promptly() -> None:
    opener = Opener([OperationalError("refused")] * 1000)
    storage = Storage(opener, retry_max_s=30.0)
    task = asyncio.create_task(storage.query("SELECT 1"))
    await asyncio.sleep(0.5)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 0.5
    assert storage.failures >= 2


async def test_the_query_pool_reopens_a_failed_client_and_maps_unavailability_to_503() -> None:
    opener = Opener([OperationalError("connection reset")])
    store = QueryStore(opener, QueryMetrics(), pool_size=3)
    with pytest.raises(StoreUnavailable) as raised:
        await store.rows("SELECT 1")
    assert "connection reset" in str(raised.value) and opener.opened[0].closed
    for _ in range(5):  # one statement at a time: one client serves them all
        assert await store.rows("SELECT 1") == [(1,)]
    assert len(opener.opened) == 2
    await store.close()
    assert opener.opened[1].closed


async def test_the_query_pool_raises_other_failures_as_they_are() -> None:
    store = QueryStore(Opener([KeyError("no column")]), QueryMetrics(), pool_size=1)
    with pytest.raises(KeyError):
        await store.execute(select_one)
    assert await store.execute(select_one) == [(1,)]
    await store.close()


async def test_a_store_of_two_connections_runs_two_calls_at_once_on_two_clients() -> None:
    opener = Opener()
    storage = Storage(opener, retry_max_s=0.01, connections=2)
    both_running = threading.Barrier(2, timeout=5)  # broken (and the calls fail) unless both run at once

    def meet(client: Client) -> int:
        both_running.wait()
        return id(client)

    calls = [storage.run(meet, "meet", give_up=lambda exc: True) for _ in range(2)]
    first, second = await asyncio.gather(*calls)
    assert first != second and len(opener.opened) == 2
    assert storage.failures == 0
    storage.close()
    assert all(client.closed for client in opener.opened)


async def test_a_store_of_one_connection_runs_one_call_at_a_time() -> None:
    storage = Storage(Opener(), retry_max_s=0.01)
    running: list[int] = []
    overlapped: list[bool] = []

    def call(client: Client) -> None:
        running.append(1)
        overlapped.append(len(running) > 1)
        time.sleep(0.05)
        running.pop()

    await asyncio.gather(*(storage.run(call, "call") for _ in range(4)))
    assert overlapped == [False] * 4


def test_a_store_needs_a_connection() -> None:
    with pytest.raises(ValueError, match="at least one connection"):
        Storage(Opener(), connections=0)
