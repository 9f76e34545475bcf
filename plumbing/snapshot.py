"""A value re-read from the store every few seconds, so that request paths and stream transforms answer from
memory: API keys, tenants' privacy choices and raw retention, tracking preferences and suppressions, tenants'
time zones.

:class:`PeriodicSnapshot` holds what those refreshers share — the schedule, the lifecycle, what a failed read
leaves in place and how it is logged — and knows nothing about what is read.

Contract:

- ``load`` is awaited for each refresh. A blocking read (the synchronous clickhouse-connect calls) is wrapped
  with :func:`in_thread`, so it runs in a worker thread, never on the event loop; a read that retries by
  itself (:meth:`plumbing.storage.Storage.run`) is passed as it is and simply takes longer while the store
  is down. Refreshes never overlap: one runs at a time, the others wait their turn.
- Until the first successful load readers get ``initial``; :attr:`~PeriodicSnapshot.loaded` says when that
  phase is over (what a readiness probe may ask).
- A failed load keeps the last good value (or ``initial``) and is counted in
  :attr:`~PeriodicSnapshot.failures`. The first failure of a run of failures is logged as a warning (naming
  how old the value kept is), the later ones of the same run at debug level, and the first success after a
  run at info level: a store down for an hour does not write a warning every few seconds.
- ``on_update(value)`` runs on the event loop before each successful load's value is published (and on
  :meth:`~PeriodicSnapshot.use`), for holders that keep state derived from it; should it raise, the refresh
  counts as failed and the last good value stays.
- Schedule: :meth:`~PeriodicSnapshot.start` loads once (awaited; a failure is tolerated), then reloads in a
  background task ``interval_s`` after each refresh ends — every ``retry_unloaded_s`` instead while nothing
  was loaded yet. :meth:`~PeriodicSnapshot.run` is the same, for a caller that owns the task (cancel it to
  stop). :meth:`~PeriodicSnapshot.stop` is prompt: it cancels the background and early refreshes without
  waiting for a read running in a thread, which finishes there and whose result is dropped.
- Early refreshes (with ``early_interval_s``): :meth:`~PeriodicSnapshot.refresh_early` starts a refresh
  between the scheduled ones, at most one per ``early_interval_s`` counted from the start of the last
  refresh of any kind, so a reader that meets something unknown (a key created a moment ago) can catch up
  at once while a flood of unknowns cannot hammer the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


def in_thread(read: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    """``read`` (blocking) as a load for :class:`PeriodicSnapshot` that runs it in a worker thread."""

    async def load() -> T:
        return await asyncio.to_thread(read)

    return load


class PeriodicSnapshot(Generic[T]):
    """A value loaded at start and re-loaded periodically; see the module docstring for the contract.

    ``what`` names the value in log lines ("API keys not refreshed (...)"); ``until_loaded`` says in them
    what readers get while nothing was loaded (e.g. "every key refused until read"). ``clock`` and ``sleep``
    are the monotonic clock and the pause between refreshes (tests pass fakes).
    """

    def __init__(
        self,
        load: Callable[[], Awaitable[T]],
        initial: T,
        *,
        what: str,
        interval_s: float,
        retry_unloaded_s: float | None = None,
        early_interval_s: float | None = None,
        until_loaded: str = "nothing loaded yet",
        on_update: Callable[[T], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not interval_s > 0:
            raise ValueError(f"{what}: the refresh interval must be positive, not {interval_s!r}")
        self._load = load
        self._value = initial
        self.what = what
        self.interval_s = interval_s
        self._retry_unloaded_s = retry_unloaded_s
        self._early_interval_s = early_interval_s
        self._until_loaded = until_loaded
        self._on_update = on_update
        self._clock = clock
        self._sleep = sleep
        self._loaded_at: float | None = None
        self._last_attempt = -math.inf
        self._streak = 0
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._early: asyncio.Task[bool] | None = None
        self._stopped = False
        self.failures = 0
        """Failed refreshes since this snapshot was made."""

    # ---- what readers see ------------------------------------------------------------------------------

    @property
    def value(self) -> T:
        """The last value loaded (``initial`` until the first load succeeds)."""
        return self._value

    @property
    def loaded(self) -> bool:
        """At least one load succeeded (or a value was set with :meth:`use`)."""
        return self._loaded_at is not None

    @property
    def age_s(self) -> float | None:
        """Seconds since the value was loaded (``None``: never)."""
        return None if self._loaded_at is None else self._clock() - self._loaded_at

    @property
    def early_task(self) -> asyncio.Task[bool] | None:
        """The early refresh started last, if any (it may have finished)."""
        return self._early

    def use(self, value: T) -> None:
        """Publish ``value`` as a successful load would (a value read elsewhere, or one a test sets)."""
        if self._on_update is not None:
            self._on_update(value)
        self._value = value
        self._loaded_at = self._clock()

    # ---- refreshing ------------------------------------------------------------------------------------

    async def refresh(self) -> bool:
        """Load now (after a refresh running already); ``False`` when it failed and the value was kept."""
        async with self._lock:
            self._last_attempt = self._clock()
            try:
                self.use(await self._load())
            except Exception as exc:
                self._failed(exc)
                return False
            if self._streak:
                log.info("%s refreshed again after %d failed attempt(s)", self.what, self._streak)
                self._streak = 0
            return True

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        self._streak += 1
        age = self.age_s
        kept = f"keeping the snapshot of {age:.0f} s ago" if age is not None else self._until_loaded
        if self._streak == 1:
            log.warning("%s not refreshed (%s): %s: %s", self.what, kept, type(exc).__name__, exc)
        else:
            log.debug(
                "%s not refreshed, %d failures in a row (%s): %s: %s",
                self.what,
                self._streak,
                kept,
                type(exc).__name__,
                exc,
            )

    def refresh_early(self) -> asyncio.Task[bool] | None:
        """The early refresh running, or one started now if allowed; ``None`` when early refreshes are off,
        rate-limited, stopped, or asked off the event loop (the scheduled refresh will catch up)."""
        if self._early_interval_s is None or self._stopped:
            return None
        if self._early is not None and not self._early.done():
            return self._early
        if self._clock() - self._last_attempt < self._early_interval_s:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        self._last_attempt = self._clock()  # claimed now: asks before the task starts do not pile up
        self._early = loop.create_task(self.refresh(), name=f"{self.what}: early refresh")
        return self._early

    async def catch_up(self) -> None:
        """Start an early refresh if allowed and wait for it; else wait for the refresh running now (the
        first one, say), if any. What a reader that met something unknown does before answering."""
        task = self.refresh_early()
        if task is not None:
            await asyncio.shield(task)
        elif self._lock.locked():
            async with self._lock:
                pass

    # ---- lifecycle -------------------------------------------------------------------------------------

    def _pause_s(self) -> float:
        if self.loaded or self._retry_unloaded_s is None:
            return self.interval_s
        return min(self.interval_s, self._retry_unloaded_s)

    async def _refresh_forever(self) -> None:
        while True:
            await self._sleep(self._pause_s())
            await self.refresh()

    async def run(self) -> None:
        """Refresh now, then on the schedule until cancelled (for a caller that owns the task)."""
        self._stopped = False
        await self.refresh()
        await self._refresh_forever()

    async def start(self) -> None:
        """Refresh once (a failure is tolerated), then keep refreshing in a background task until
        :meth:`stop`."""
        if self._task is not None:
            raise RuntimeError(f"{self.what}: the snapshot is refreshing already")
        self._stopped = False
        await self.refresh()
        self._task = asyncio.create_task(self._refresh_forever(), name=f"{self.what}: refresh")

    async def stop(self) -> None:
        """Cancel the background and early refreshes, then wait for a refresh a caller awaits itself, if one
        runs. A read the cancelled refreshes left running in a worker thread is not waited for: it finishes
        there and its result is dropped."""
        self._stopped = True
        tasks = [task for task in (self._task, self._early) if task is not None and not task.done()]
        self._task = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        async with self._lock:
            pass
