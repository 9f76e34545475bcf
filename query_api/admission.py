"""Admission of dashboard-class computations: a few at once, the rest wait their turn in arrival order.

A dashboard is six or seven statements run together. Started as they arrive, every request's statements
interleave with every other request's on the same cores, so each request takes about as long as all of
them together, and which one finishes last is luck: the tail is far above the median. Admitted in arrival
order, at most as many at once as there are cores to run them, a request waits for the ones ahead and then
runs nearly alone: the same throughput, and a tail close to the median. ADR 0010 has the measurements.

``asyncio.Semaphore`` is first in, first out since Python 3.11.1 (a newcomer no longer takes a slot a
woken waiter was handed), which is the order this relies on.

A computation that has run its own statements and only waits for tenant-wide aggregates (shared by the
tenant's dashboards, computed by one of them on a cold cache, which takes long on a large tenant) gives its
slot to the next request first (:func:`leave`); otherwise two requests waiting for one such read would
hold every slot and stall every tenant's dashboards behind it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from prometheus_client import Histogram

T = TypeVar("T")


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_admission_limit(embedded: bool, pool_size: int) -> int:
    """The embedded engine runs its statements on this host's cores, so as many computations as CPUs;
    a server runs them on its own, and the client pool already bounds this process's share of it."""
    return available_cpus() if embedded else max(1, pool_size)


@dataclass
class _Slot:
    """The slot a computation holds; its child tasks see the same one (context variables are copied)."""

    slots: asyncio.Semaphore
    held: bool = True

    def give_back(self) -> None:
        if self.held:
            self.held = False
            self.slots.release()


_current: ContextVar[_Slot | None] = ContextVar("admission_slot", default=None)


class Admission:
    def __init__(self, limit: int, wait_seconds: Histogram) -> None:
        if limit < 1:
            raise ValueError(f"admission limit must be at least 1, not {limit}")
        self.limit = limit
        self._slots = asyncio.Semaphore(limit)
        self._wait_seconds = wait_seconds

    async def run(self, compute: Callable[[], Awaitable[T]]) -> T:
        """``await compute()`` once admitted; the wait is observed into the admission-wait histogram."""
        arrived = time.perf_counter()
        await self._slots.acquire()
        self._wait_seconds.observe(time.perf_counter() - arrived)
        slot = _Slot(self._slots)
        token = _current.set(slot)
        try:
            return await compute()
        finally:
            _current.reset(token)
            slot.give_back()


def leave() -> None:
    """The running computation runs no statements of its own any more: its slot goes to the next request.
    Call it from the computation's own task once its statements are done (not while a child task still
    runs one). Without a slot (not admitted, or already left) it does nothing."""
    slot = _current.get()
    if slot is not None:
        slot.give_back()
