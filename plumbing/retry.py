"""The one retry policy for waiting out something unavailable: the store (:class:`plumbing.storage.Storage`)
and the Kafka brokers (``ingest_gateway.sink``).

Waits double from :data:`FIRST_WAIT_S` up to a cap that the caller takes from its settings
(``ANALYTICS_RETRY_MAX_S``, one setting for every process), with jitter: processes that lost the store at
the same moment do not all come back at the same moment. Retrying goes on for as long as it takes; what
ends it is the caller: ``give_up`` for errors that retrying cannot cure, cancellation of the awaiting task
for a shutdown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception
from tenacity.wait import wait_base, wait_exponential, wait_random_exponential

T = TypeVar("T")

FIRST_WAIT_S = 0.2
"""The first wait; each further one doubles (before jitter) until the cap."""


def backoff(cap_s: float) -> wait_base:
    """Waits of ``d/2 + uniform(0, d/2)`` with ``d = min(FIRST_WAIT_S * 2**(n-1), cap_s)`` before retry n
    ("equal jitter"): never longer than ``cap_s``, so a recovered store is noticed within the cap; never
    shorter than half the unjittered wait, so a fleet of workers does not poll a struggling store in a
    tight loop."""
    half_first, half_cap = FIRST_WAIT_S / 2, cap_s / 2
    return wait_exponential(multiplier=half_first, max=half_cap) + wait_random_exponential(
        multiplier=half_first, max=half_cap
    )


async def retry_until_done(
    attempt: Callable[[], Awaitable[T]],
    cap_s: float,
    on_retry: Callable[[Exception, float], None],
    give_up: Callable[[Exception], bool] | None = None,
) -> T:
    """Await ``attempt()`` until it returns, waiting :func:`backoff` between attempts.

    After an attempt raised an ``Exception``, ``give_up(exc)`` decides: true raises ``exc`` at once (a
    data error: the same rows fail again); false, or no ``give_up``, calls ``on_retry(exc, wait_s)``
    (count, log) and tries again after ``wait_s``. Anything else (``CancelledError``: a shutdown
    cancelling the task, during an attempt or a wait) propagates at once. A new :class:`AsyncRetrying`
    per call: tenacity keeps the state of a run on the object, so one object cannot serve concurrent
    runs.
    """

    async def once() -> T:  # tenacity awaits only coroutine functions; ``attempt`` may be a lambda
        return await attempt()

    def should_retry(exc: BaseException) -> bool:
        return isinstance(exc, Exception) and not (give_up is not None and give_up(exc))

    def before_sleep(state: RetryCallState) -> None:
        assert state.outcome is not None and state.next_action is not None
        exc = state.outcome.exception()
        assert isinstance(exc, Exception)
        on_retry(exc, state.next_action.sleep)

    retrying = AsyncRetrying(
        wait=backoff(cap_s), retry=retry_if_exception(should_retry), before_sleep=before_sleep, reraise=True
    )
    return await retrying(once)
