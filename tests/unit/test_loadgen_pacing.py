"""The load generator's pacing: a paced run sends every request due within its duration, even when slow
answers make its senders late (the count is the rate times the duration, whatever the machine's load)."""

from __future__ import annotations

import asyncio
import time

import httpx
from tqdm import tqdm

from loadgen.options import LoadOptions
from loadgen.runner import _Run
from schemas.topics import Stream

ANSWER_S = 0.12
"""Each post takes this long: more than the pacing interval of 0.05 s."""


async def _slow_gateway(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(ANSWER_S)
    return httpx.Response(200, json={"data": {"processed_count": 100, "failed_count": 0}})


async def _sent(options: LoadOptions) -> tuple[int, float]:
    transport = httpx.MockTransport(_slow_gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        run = _Run(options, client, tqdm(disable=True))
        await asyncio.gather(*(run.sender() for _ in range(options.concurrency)))
        return run.tally.streams[Stream.EVENTS].sent, time.perf_counter() - run.began


async def test_a_late_paced_sender_still_sends_what_was_due() -> None:
    # 2,000 events/s in batches of 100: a batch due every 0.05 s, 10 within 0.5 s; one sender that needs
    # 0.12 s per post reaches the deadline after 4 of them and catches up after it
    options = LoadOptions(
        rate=2_000, duration_s=0.5, batch=100, concurrency=1, streams=frozenset({Stream.EVENTS})
    )
    sent, elapsed = await _sent(options)
    assert sent == 1_000
    assert elapsed >= 10 * ANSWER_S  # the late ones were sent after the deadline, one after the other


async def test_an_unpaced_run_stops_at_its_deadline() -> None:
    options = LoadOptions(duration_s=0.5, batch=100, concurrency=1, streams=frozenset({Stream.EVENTS}))
    sent, elapsed = await _sent(options)
    # posts start at 0, 0.12, 0.24, 0.36, 0.48 s (later on a busy machine), none after 0.5 s
    assert 100 <= sent <= 500
    assert elapsed < 0.5 + ANSWER_S + 0.25
