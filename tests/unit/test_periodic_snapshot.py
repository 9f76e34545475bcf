"""The generic periodically-refreshed snapshot (:mod:`plumbing.snapshot`) without a store: what readers see
before and after loads, a failed load keeping the last value (logged once per run of failures), the
schedule (a fake sleep records every pause, so no assertion depends on timing), early refreshes under a fake
clock, and a prompt stop even while a read blocks in its thread."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from plumbing.snapshot import PeriodicSnapshot, in_thread


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Source:
    """A load that answers the values set on it, or raises while ``down``."""

    def __init__(self, value: int = 1) -> None:
        self.value = value
        self.down = False
        self.loads = 0

    async def __call__(self) -> int:
        self.loads += 1
        if self.down:
            raise ConnectionError("store unreachable")
        return self.value


class Sleeps:
    """A fake ``sleep``: records each pause asked for and returns only when the test says so."""

    def __init__(self) -> None:
        self.asked: asyncio.Queue[float] = asyncio.Queue()
        self._wake: asyncio.Queue[None] = asyncio.Queue()
        self.pauses: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.asked.put_nowait(seconds)
        await self._wake.get()

    async def next_pause(self) -> float:
        return await asyncio.wait_for(self.asked.get(), timeout=10)

    def wake(self) -> None:
        self._wake.put_nowait(None)


def _snapshot(source: Source, **options: Any) -> PeriodicSnapshot[int]:
    return PeriodicSnapshot(source, 0, what="numbers", interval_s=30.0, **options)


async def test_readers_get_the_initial_value_until_a_load_succeeds() -> None:
    clock = Clock()
    source = Source(7)
    snapshot = _snapshot(source, clock=clock)
    assert snapshot.value == 0 and not snapshot.loaded and snapshot.age_s is None
    assert await snapshot.refresh()
    assert snapshot.value == 7 and snapshot.loaded and snapshot.age_s == 0
    clock.now += 12
    assert snapshot.age_s == 12


async def test_a_failed_load_keeps_the_last_value_and_logs_once_per_run_of_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    source = Source(7)
    snapshot = _snapshot(source, clock=clock)
    caplog.set_level(logging.DEBUG, logger="plumbing.snapshot")
    assert await snapshot.refresh()
    source.down, source.value = True, 8
    clock.now += 5
    for _ in range(3):
        assert not await snapshot.refresh()
        assert snapshot.value == 7 and snapshot.loaded
    assert snapshot.failures == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "numbers not refreshed (keeping the snapshot of 5 s ago): ConnectionError: store unreachable"
    ]
    assert sum(r.levelno == logging.DEBUG for r in caplog.records) == 2
    source.down = False
    assert await snapshot.refresh() and snapshot.value == 8 and snapshot.age_s == 0
    assert "numbers refreshed again after 3 failed attempt(s)" in caplog.text
    source.down = True
    assert not await snapshot.refresh()  # a new run of failures: a warning again
    assert sum(r.levelno == logging.WARNING for r in caplog.records) == 2


async def test_a_failure_before_the_first_load_says_what_readers_get(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = Source()
    source.down = True
    snapshot = _snapshot(source, until_loaded="every number refused until read")
    assert not await snapshot.refresh()
    assert snapshot.value == 0 and not snapshot.loaded and snapshot.failures == 1
    assert "numbers not refreshed (every number refused until read)" in caplog.text


async def test_on_update_sees_each_new_value_and_a_failing_one_keeps_the_last_value() -> None:
    seen: list[int] = []

    def update(value: int) -> None:
        if value < 0:
            raise ValueError("negative")
        seen.append(value)

    source = Source(1)
    snapshot = _snapshot(source, on_update=update)
    assert await snapshot.refresh()
    snapshot.use(2)
    source.value = -1
    assert not await snapshot.refresh()
    assert seen == [1, 2] and snapshot.value == 2 and snapshot.failures == 1


async def test_the_schedule_is_the_interval_after_each_refresh_and_sooner_while_unloaded() -> None:
    source = Source()
    source.down = True
    sleeps = Sleeps()
    snapshot = _snapshot(source, retry_unloaded_s=5.0, sleep=sleeps)
    await snapshot.start()  # the first load is awaited (and may fail)
    assert source.loads == 1 and not snapshot.loaded
    assert await sleeps.next_pause() == 5.0  # nothing loaded yet: retried sooner
    source.down = False
    sleeps.wake()
    assert await sleeps.next_pause() == 30.0
    assert source.loads == 2 and snapshot.loaded
    source.down = True
    sleeps.wake()
    assert await sleeps.next_pause() == 30.0  # loaded once: a failure waits the whole interval
    assert source.loads == 3 and snapshot.value == 1
    await snapshot.stop()
    assert sleeps.pauses == [5.0, 30.0, 30.0]


async def test_run_refreshes_now_then_on_the_schedule_until_cancelled() -> None:
    source = Source()
    sleeps = Sleeps()
    snapshot = _snapshot(source, sleep=sleeps)
    task = asyncio.create_task(snapshot.run())
    assert await sleeps.next_pause() == 30.0 and source.loads == 1
    sleeps.wake()
    assert await sleeps.next_pause() == 30.0 and source.loads == 2
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_stop_is_prompt_while_a_read_blocks_in_its_thread() -> None:
    release = threading.Event()
    started = threading.Event()
    reads: list[int] = []

    def blocking_read() -> int:
        reads.append(threading.get_ident())
        if len(reads) > 1:  # the second read hangs until the test ends
            started.set()
            release.wait(timeout=30)
        return len(reads)

    sleeps = Sleeps()
    snapshot = PeriodicSnapshot(in_thread(blocking_read), 0, what="numbers", interval_s=30.0, sleep=sleeps)
    try:
        await snapshot.start()
        assert snapshot.value == 1 and reads[0] != threading.get_ident()  # read off the event loop
        await sleeps.next_pause()
        sleeps.wake()
        assert await asyncio.to_thread(started.wait, 10)
        await asyncio.wait_for(snapshot.stop(), timeout=10)  # does not wait for the hung read
        assert snapshot.value == 1
    finally:
        release.set()


async def test_refreshes_never_overlap() -> None:
    running = 0
    most = 0

    async def load() -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0)
        running -= 1
        return 1

    snapshot = PeriodicSnapshot(load, 0, what="numbers", interval_s=30.0)
    assert all(await asyncio.gather(*(snapshot.refresh() for _ in range(5))))
    assert most == 1


def _early(source: Source, clock: Clock) -> PeriodicSnapshot[int]:
    return _snapshot(source, early_interval_s=1.0, clock=clock)


async def test_early_refreshes_are_rate_limited_from_the_last_refresh_of_any_kind() -> None:
    clock = Clock()
    source = Source()
    snapshot = _early(source, clock)
    assert await snapshot.refresh() and source.loads == 1
    assert snapshot.refresh_early() is None  # a refresh just ran
    clock.now += 1.0
    task = snapshot.refresh_early()
    assert task is not None and snapshot.refresh_early() is task  # one at a time
    assert await task and source.loads == 2 and snapshot.early_task is task
    for _ in range(10):
        assert snapshot.refresh_early() is None
    clock.now += 0.5
    assert snapshot.refresh_early() is None and source.loads == 2


def test_early_refreshes_need_the_event_loop_and_the_option() -> None:
    clock = Clock()
    assert _early(Source(), clock).refresh_early() is None  # no running loop: the schedule catches up

    async def ask() -> asyncio.Task[bool] | None:
        return _snapshot(Source(), clock=clock).refresh_early()

    assert asyncio.run(ask()) is None  # early refreshes not enabled


async def test_catch_up_waits_for_the_early_refresh_or_the_one_running() -> None:
    clock = Clock()
    gate = asyncio.Event()
    source = Source(5)

    async def slow() -> int:
        await gate.wait()
        return await source()

    snapshot = PeriodicSnapshot(slow, 0, what="numbers", interval_s=30.0, early_interval_s=1.0, clock=clock)
    first = asyncio.create_task(snapshot.refresh())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(snapshot.catch_up())  # rate-limited: waits for the refresh running
    await asyncio.sleep(0)
    assert not waiter.done()
    gate.set()
    await waiter
    assert snapshot.value == 5 and await first
    source.value = 6
    clock.now += 1.0
    await snapshot.catch_up()  # starts an early refresh and waits for it
    assert snapshot.value == 6 and source.loads == 2


async def test_stop_cancels_a_running_early_refresh_and_no_early_one_starts_after() -> None:
    clock = Clock()
    gate = asyncio.Event()

    async def hanging() -> int:
        await gate.wait()
        return 1

    snapshot = PeriodicSnapshot(
        hanging, 0, what="numbers", interval_s=30.0, early_interval_s=1.0, clock=clock
    )
    task = snapshot.refresh_early()
    assert task is not None
    await asyncio.sleep(0)
    await asyncio.wait_for(snapshot.stop(), timeout=10)
    assert task.cancelled()
    clock.now += 10
    assert snapshot.refresh_early() is None and not snapshot.loaded


@pytest.mark.parametrize("interval", [0.0, -1.0])
def test_the_interval_must_be_positive(interval: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        PeriodicSnapshot(Source(), 0, what="numbers", interval_s=interval)
