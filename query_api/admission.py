"""Admission of dashboard-class computations: a few at once, the rest wait their turn in arrival order.

A dashboard is seven statements run together. Started as they arrive, every request's statements
interleave with every other request's on the same cores, so each request takes about as long as all of
them together, and which one finishes last is luck: on 2 cores at concurrency 4 the p99 was twice the
median (p50 85, p99 172 ms). Admitted in arrival order, at most as many at once as there are cores to run
them, a request waits for the ones ahead and then runs nearly alone: the same throughput, and a p99 about
1.4 times the median (120-128 ms). ADR 0010 has the measurements.

``asyncio.Semaphore`` is first in, first out since Python 3.11.1 (a newcomer no longer takes a slot a
woken waiter was handed), which is the order this relies on.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
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
        async with self._slots:
            self._wait_seconds.observe(time.perf_counter() - arrived)
            return await compute()
