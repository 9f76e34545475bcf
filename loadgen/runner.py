"""Send the traffic models to a gateway: ``concurrency`` closed-loop senders, paced to ``rate`` events/s.

The product's model is endless; the learning platform's (:mod:`.lms_traffic`) is one term, sent whole.
The run ends after ``duration`` seconds (paced: once every request due in them is sent) or ``events``
items, when the selected traffic is all sent, or early once more than ``max_errors`` requests failed.
Nothing is retried: a refused item, a non-2xx answer or a transport error is counted and makes the run
unsuccessful, since on a healthy gateway none of them is expected. (The learning platform's own re-sends
of a client id are items like any other, also counted as ``resent``.)
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
from tqdm import tqdm

from loadgen.lms_traffic import lms_items
from loadgen.options import LoadOptions
from loadgen.requests import Request, pack
from loadgen.stats import Tally
from loadgen.traffic import Item, TrafficModel
from schemas.topics import PRODUCT_STREAMS


class GatewayUnreachable(Exception):
    """Nothing answers at the gateway URL (checked once before the run)."""


def _product_items(options: LoadOptions) -> Iterator[Item]:
    if not options.streams & frozenset(PRODUCT_STREAMS):
        return iter(())
    model = TrafficModel(
        seed=options.seed,
        users=options.users,
        history_days=options.history_days,
        now=options.now,
        streams=options.streams,
        user_prefix=options.user_prefix,
    )
    if options.sessions is not None:
        return itertools.chain.from_iterable(model.session() for _ in range(options.sessions))
    return model.items()


def interleave(first: Iterator[Item], second: Iterator[Item]) -> Iterator[Item]:
    """One item of each in turn while both last, then the rest of the longer one."""
    sources = [first, second]
    while sources:
        for source in list(sources):
            item = next(source, None)
            if item is None:
                sources.remove(source)
            else:
                yield item


def _requests(options: LoadOptions) -> Iterator[Request]:
    """The product's traffic and the learning platform's, item by item in turn (when both are selected)."""
    items = interleave(_product_items(options), lms_items(options))
    if options.events is not None:
        items = itertools.islice(items, options.events)
    return pack(items, options.batch, options.gzip)


class _Run:
    def __init__(self, options: LoadOptions, client: httpx.AsyncClient, bar: tqdm[Any]) -> None:
        self.options = options
        self.client = client
        self.bar = bar
        self.tally = Tally()
        self.source = _requests(options)
        self.began = time.perf_counter()
        self.deadline = None if options.duration_s is None else self.began + options.duration_s
        self.dispatched = 0
        self.stopped = False
        self.shown_errors = 0

    async def _next(self) -> Request | None:
        """The next request once it is due (pacing), or None when the run is over. A paced run sends every
        request due before the deadline, even if a slow answer made its sender late: its count is the rate
        times the duration, not what a busy machine managed to post in time."""
        if self.stopped:
            return None
        paced = self.options.rate > 0
        if not paced and self.deadline is not None and time.perf_counter() >= self.deadline:
            return None
        request = next(self.source, None)
        if request is None:
            return None
        if paced:
            due = self.began + self.dispatched / self.options.rate
            self.dispatched += request.count
            if self.deadline is not None and due >= self.deadline:
                return None
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
        return request

    async def sender(self) -> None:
        while (request := await self._next()) is not None:
            await self._send(request)
            if self.tally.errors > self.options.max_errors:
                self.stopped = True

    async def _send(self, request: Request) -> None:
        tally = self.tally
        counts = tally.streams[request.stream]
        counts.sent += request.count
        tally.requests += 1
        headers = {"content-type": "application/json"}
        if self.options.gzip:
            headers["content-encoding"] = "gzip"
        started = time.perf_counter()
        try:
            response = await self.client.post(request.path, content=request.body, headers=headers)
        except httpx.HTTPError as exc:
            tally.failure(request.stream, request.count, f"{request.path}: {type(exc).__name__}: {exc}")
            self._progress(request.count)
            return
        tally.latencies_s.append(time.perf_counter() - started)
        tally.statuses[response.status_code] += 1
        if response.status_code != 200:
            what = f"{request.path}: HTTP {response.status_code}: {response.text[:300]}"
            tally.failure(request.stream, request.count, what)
        elif request.batch:
            try:
                data = orjson.loads(response.content)["data"]
                processed, failed = int(data["processed_count"]), int(data["failed_count"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                tally.failure(request.stream, request.count, f"{request.path}: not a batch answer")
            else:
                counts.accepted += processed
                counts.rejected += failed
                if failed and len(tally.samples) < 5:
                    tally.samples.append(f"{request.path}: refused items: {data.get('errors', [])[:3]}")
        else:
            counts.accepted += request.count
        if response.status_code == 200:
            counts.resent += request.repeats
        self._progress(request.count)

    def _progress(self, count: int) -> None:
        if self.tally.errors != self.shown_errors:
            self.shown_errors = self.tally.errors
            self.bar.set_postfix(errors=self.shown_errors, refresh=False)
        self.bar.update(count)


async def run(options: LoadOptions) -> dict[str, Any]:
    """Run the load and return its summary (see :meth:`Tally.summary`, plus ``ok``)."""
    limits = httpx.Limits(max_connections=options.concurrency, max_keepalive_connections=options.concurrency)
    base = options.url.rstrip("/")
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=30.0, headers=options.auth_headers()
    ) as client:
        try:
            await client.get("/healthz", timeout=5.0)
        except httpx.HTTPError as exc:
            raise GatewayUnreachable(f"no gateway answers at {base}: {type(exc).__name__}: {exc}") from exc
        planned = options.events
        if planned is None and options.rate > 0 and options.duration_s is not None:
            planned = int(options.rate * options.duration_s)
        with tqdm(
            total=planned, unit="ev", unit_scale=True, disable=not options.progress, mininterval=0.5
        ) as bar:
            bar.set_postfix(errors=0)
            state = _Run(options, client, bar)
            await asyncio.gather(*(state.sender() for _ in range(options.concurrency)))
            elapsed = time.perf_counter() - state.began
    summary = state.tally.summary(elapsed)
    summary["ok"] = state.tally.ok
    return summary
