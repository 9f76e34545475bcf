"""Dashboard-class computations are admitted a few at a time, in arrival order (ADR 0010)."""

from __future__ import annotations

import asyncio
import functools

import pytest

from query_api.admission import Admission, available_cpus, default_admission_limit, leave
from query_api.main import create_app
from query_api.metrics import QueryMetrics
from query_api.settings import QuerySettings


def _histogram_count(metrics: QueryMetrics) -> float:
    value = metrics.registry.get_sample_value("analytics_query_admission_wait_seconds_count")
    return 0.0 if value is None else value


async def test_at_most_the_limit_run_and_the_rest_start_in_arrival_order() -> None:
    metrics = QueryMetrics()
    admission = Admission(2, metrics.admission_wait)
    started: list[int] = []
    running = 0
    most = 0
    release = {n: asyncio.Event() for n in range(6)}

    async def compute(n: int) -> int:
        nonlocal running, most
        started.append(n)
        running += 1
        most = max(most, running)
        await release[n].wait()
        running -= 1
        return n * 10

    tasks = []
    for n in range(6):
        tasks.append(asyncio.create_task(admission.run(functools.partial(compute, n))))
        await asyncio.sleep(0)  # arrive one after another
    await asyncio.sleep(0.01)
    assert started == [0, 1]
    for n in (1, 0, 2, 3, 4, 5):  # finishing out of order frees slots for the next arrivals
        release[n].set()
        await asyncio.sleep(0.01)
    assert [await task for task in tasks] == [0, 10, 20, 30, 40, 50]
    assert started == [0, 1, 2, 3, 4, 5]
    assert most == 2
    assert _histogram_count(metrics) == 6


async def test_a_failing_computation_gives_its_slot_back() -> None:
    admission = Admission(1, QueryMetrics().admission_wait)

    async def fail() -> None:
        raise RuntimeError("statement failed")

    async def succeed() -> str:
        return "ok"

    with pytest.raises(RuntimeError):
        await admission.run(fail)
    assert await asyncio.wait_for(admission.run(succeed), timeout=1) == "ok"


async def test_a_computation_that_leaves_gives_its_slot_to_the_next_and_only_once() -> None:
    """After its own statements a dashboard only waits for tenant-wide aggregates: it leaves, the next
    request runs meanwhile, and finishing later does not free a second slot."""
    admission = Admission(1, QueryMetrics().admission_wait)
    shared_read = asyncio.Event()
    events: list[str] = []

    async def first() -> None:
        events.append("first: own statements")
        leave()
        leave()  # twice is harmless
        await shared_read.wait()
        events.append("first: done")

    async def second() -> None:
        events.append("second: admitted")

    one = asyncio.create_task(admission.run(first))
    await asyncio.sleep(0)
    two = asyncio.create_task(admission.run(second))
    await asyncio.wait_for(two, timeout=1)
    assert events == ["first: own statements", "second: admitted"]
    shared_read.set()
    await one
    running = 0
    most = 0

    async def counted() -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1

    await asyncio.gather(*(admission.run(counted) for _ in range(3)))
    assert most == 1  # still one slot, not two


def test_leaving_outside_a_computation_does_nothing() -> None:
    leave()


def test_the_limit_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Admission(0, QueryMetrics().admission_wait)


def test_default_limit_is_the_cpus_for_the_embedded_engine_and_the_pool_for_a_server() -> None:
    assert default_admission_limit(embedded=True, pool_size=4) == available_cpus()
    assert default_admission_limit(embedded=False, pool_size=6) == 6
    assert available_cpus() >= 1


async def test_the_app_admits_as_configured() -> None:
    configured = create_app(QuerySettings(clickhouse_url="http://127.0.0.1:1", query_concurrent_reads=3))
    assert configured.state.query_admission.limit == 3
    embedded = create_app(QuerySettings(clickhouse_url="chdb://./var/never-opened"))
    assert embedded.state.query_admission.limit == available_cpus()
    server = create_app(QuerySettings(clickhouse_url="http://127.0.0.1:1", query_pool_size=5))
    assert server.state.query_admission.limit == 5
