"""The one retry policy (plumbing/retry.py): jittered waits that double up to the cap, errors that
``give_up`` accepts raised at once, and cancellation (a shutdown) ending the retries during a wait."""

from __future__ import annotations

import asyncio
import time

import pytest
from tenacity import RetryCallState

from plumbing.retry import FIRST_WAIT_S, backoff, retry_until_done


def wait_before(attempt: int, cap_s: float) -> float:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    return backoff(cap_s)(state)


def test_waits_double_from_the_first_up_to_the_cap_with_equal_jitter() -> None:
    cap = 3.0
    for attempt in range(1, 40):
        unjittered = min(FIRST_WAIT_S * 2 ** (attempt - 1), cap)
        waits = [wait_before(attempt, cap) for _ in range(50)]
        assert all(unjittered / 2 <= wait <= unjittered for wait in waits), (attempt, waits)
        assert len(set(waits)) > 1, "jittered"


def test_waits_stay_at_the_cap_however_long_the_outage() -> None:
    assert all(15.0 <= wait_before(10_000, 30.0) <= 30.0 for _ in range(20))


async def test_retries_until_the_attempt_succeeds_telling_each_wait() -> None:
    attempts: list[int] = []
    retried: list[tuple[str, float]] = []

    async def attempt() -> str:
        attempts.append(1)
        if len(attempts) < 4:
            raise ConnectionError(f"refused {len(attempts)}")
        return "done"

    result = await retry_until_done(attempt, 0.02, lambda exc, wait: retried.append((str(exc), wait)))
    assert result == "done" and len(attempts) == 4
    assert [message for message, _ in retried] == ["refused 1", "refused 2", "refused 3"]
    assert all(0.01 <= wait <= 0.02 for _, wait in retried)


async def test_an_error_give_up_accepts_is_raised_at_once() -> None:
    attempts: list[int] = []
    retried: list[Exception] = []

    async def attempt() -> None:
        attempts.append(1)
        raise ValueError("the rows are at fault")

    with pytest.raises(ValueError, match="the rows are at fault"):
        await retry_until_done(
            attempt, 0.02, lambda exc, _: retried.append(exc), give_up=lambda exc: isinstance(exc, ValueError)
        )
    assert len(attempts) == 1 and not retried


async def test_cancelling_stops_the_retries_during_a_wait() -> None:
    attempts: list[int] = []

    async def attempt() -> None:
        attempts.append(1)
        raise ConnectionError("refused")

    task = asyncio.create_task(retry_until_done(attempt, 30.0, lambda exc, wait: None))
    await asyncio.sleep(0.5)  # the waits so far: 0.1-0.2 s, then 0.2-0.4 s
    made = len(attempts)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 0.1
    assert made >= 2 and len(attempts) == made


async def test_concurrent_runs_keep_their_own_count() -> None:
    async def failing_times(n: int) -> int:
        attempts: list[int] = []

        async def attempt() -> int:
            attempts.append(1)
            if len(attempts) <= n:
                raise ConnectionError("refused")
            return len(attempts)

        return await retry_until_done(attempt, 0.01, lambda exc, wait: None)

    assert list(await asyncio.gather(failing_times(1), failing_times(5), failing_times(3))) == [2, 6, 4]
