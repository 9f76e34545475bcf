"""The in-process bus of the embedded mode (``analytics dev``): the gateway's :class:`EventSink` backed by
the very processing steps of the Faust agents (:class:`~stream_processors.pipeline.BatchWriter`: decode →
drop repeated client ids → transforms → inserts with refused rows isolated → dead letters), without Kafka.
Dead letters go to the ``dead_letters`` table (there is no dead-letter topic).

Contract of :meth:`EmbeddedSink.publish`: it returns once the events' raw rows *and* rollup feed rows are
in ClickHouse, so an acknowledged event never lives only in memory. Concurrent requests are grouped into
shared inserts (group commit): one committer task drains everything queued, writes it, then wakes every
waiting request. A full queue, or no commit within the produce timeout (store unavailable), raises
:class:`SinkUnavailable`, which the gateway answers with 503 and ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from plumbing.shutdown import ShutdownSettings
from plumbing.storage import Storage
from privacy.tracking import TrackingFilter
from schemas.topics import Stream, registry
from schemas.transport import Record, SinkUnavailable
from stream_processors.dead_letters import StoredDeadLetters
from stream_processors.intents import Intent
from stream_processors.metrics import WorkerMetrics
from stream_processors.pipeline import BatchWriter, Delivery
from stream_processors.settings import WorkerSettings

log = logging.getLogger(__name__)

EMBEDDED_GROUP = "embedded"
"""The consumer-group name of the embedded mode's ledger of client ids and its dead letters."""
MAX_GROUP = 5_000
"""Requests per commit at most."""
TARGET_WINDOW = 8
"""Commits whose largest group is the size the next commit waits for."""


@dataclass
class _Pending:
    stream: Stream
    topic: str
    values: list[bytes]
    done: asyncio.Future[None] = field(repr=False)
    headers: dict[str, bytes] = field(default_factory=dict)
    """The gateway's message headers (its request id): kept on each delivery, as Kafka keeps them."""


def _fail(item: _Pending, error: SinkUnavailable) -> None:
    """Fail a request's wait (its publish may have given up already: the error is then marked seen, so
    asyncio does not report it as never retrieved)."""
    if not item.done.done():
        item.done.set_exception(error)
        item.done.exception()


class EmbeddedSink:
    def __init__(
        self,
        settings: WorkerSettings,
        storage: Storage,
        shutdown: ShutdownSettings,
        timeout_s: float = 10.0,
        max_queue: int = 10_000,
    ) -> None:
        """``shutdown`` bounds :meth:`stop`; ``timeout_s``: how long a publish waits for its commit."""
        self._settings = settings
        self._stop_s = shutdown.flush_s
        self._gather_wait_s = settings.embedded_gather_wait_s
        self._storage = storage
        self._timeout_s = timeout_s
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=max_queue)
        self._streams = {spec.name: stream for stream, spec in registry(settings.topic_prefix).items()}
        self.zones = settings.zone_lookup()
        self.tracking = TrackingFilter()
        self._committer: asyncio.Task[None] | None = None
        self._recent_sizes: deque[int] = deque(maxlen=TARGET_WINDOW)
        self.commits = 0
        self.dead_letters = StoredDeadLetters(storage)
        self.metrics = WorkerMetrics(CollectorRegistry(auto_describe=True))
        """The bus's batch series (group ``embedded``), served with the gateway's (``analytics dev``)."""
        self.metrics.count_store_retries(lambda: storage.failures)
        self._writers = {
            stream: BatchWriter(
                stream,
                None,
                EMBEDDED_GROUP,
                storage,
                None,
                self.dead_letters,
                self.zones,
                self.tracking,
                metrics=self.metrics,
            )
            for stream in Stream
        }
        # offsets unique across commits and restarts: they name deliveries in the ledger and dead letters
        self._offsets = itertools.count(time.time_ns() // 1000)

    async def start(self) -> None:
        self._committer = asyncio.create_task(self._commit_forever(), name="embedded-committer")

    async def stop(self) -> None:
        """Write what is queued (the committer marks each item done after its commit), then stop.

        Bounded by the shutdown deadline's flush share (:attr:`ShutdownSettings.flush_s`): while the
        store is unavailable the queued requests are failed with :class:`SinkUnavailable` (answered 503:
        not acknowledged, so nothing acknowledged is lost) instead of waiting for it."""
        timeout_s = self._stop_s
        if self._committer is not None and not self._committer.done():
            try:
                async with asyncio.timeout(timeout_s):
                    await self._queue.join()
            except TimeoutError:
                log.warning(
                    "embedded: the store did not take %d queued requests within %.1fs; not acknowledged",
                    self._queue.qsize(),
                    timeout_s,
                )
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
        while not self._queue.empty():
            item = self._queue.get_nowait()
            _fail(item, SinkUnavailable("shutting down"))
        self._storage.close()

    async def ready(self) -> bool:
        """Committing, and the store not failing for longer than a request may wait (else every write
        would answer 503 while ``/readyz`` said ready)."""
        failing_since = self._storage.failing_since
        store_ok = failing_since is None or time.monotonic() - failing_since < self._timeout_s
        return self._committer is not None and not self._committer.done() and store_ok

    async def partitions(self, topic: str) -> int:
        return 1

    async def publish(self, topic: str, records: Sequence[Record], headers: list[tuple[str, bytes]]) -> None:
        stream = self._streams.get(topic)
        if stream is None:
            raise SinkUnavailable(f"unknown topic {topic}")
        pending = _Pending(
            stream,
            topic,
            [value for _, _, value in records],
            asyncio.get_running_loop().create_future(),
            dict(headers),
        )
        try:
            self._queue.put_nowait(pending)
        except asyncio.QueueFull as exc:
            raise SinkUnavailable("the embedded store is saturated") from exc
        try:
            await asyncio.wait_for(asyncio.shield(pending.done), self._timeout_s)
        except TimeoutError as exc:
            raise SinkUnavailable("the embedded store did not confirm in time") from exc

    async def _gather(self) -> list[_Pending]:
        """The next commit group: everything queued and, when that is fewer requests than recent commits
        held, whatever else arrives within ``embedded_gather_wait_s``.

        A commit costs mostly the same whatever its size (a part per table and view), so committing the
        two requests that happen to be queued while fourteen others are still being parsed costs almost
        what all sixteen would; without the wait, steady load splits into such small/large pairs. The
        target is the largest of the last :data:`TARGET_WINDOW` groups, so it follows the load down.
        """
        group = [await self._queue.get()]
        target = min(max(self._recent_sizes, default=1), MAX_GROUP)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._gather_wait_s
        while len(group) < MAX_GROUP:
            while not self._queue.empty() and len(group) < MAX_GROUP:
                group.append(self._queue.get_nowait())
            remaining = deadline - loop.time()
            if len(group) >= target or remaining <= 0:
                break
            try:
                group.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        self._recent_sizes.append(len(group))
        return group

    async def _commit_forever(self) -> None:
        while True:
            group = await self._gather()
            try:
                await self._commit(group)
            except asyncio.CancelledError:  # stopped while the store retries: not acknowledged
                for item in group:
                    _fail(item, SinkUnavailable("shutting down"))
                raise
            except Exception as exc:  # noqa: BLE001 - every waiter learns of the failure
                log.exception("embedded commit failed")
                for item in group:
                    _fail(item, SinkUnavailable(str(exc)))
            else:
                for item in group:
                    if not item.done.done():
                        item.done.set_result(None)
            for _ in group:
                self._queue.task_done()

    async def _commit(self, group: list[_Pending]) -> None:
        commit = uuid.uuid4().hex
        by_stream: dict[Stream, list[Delivery]] = {}
        for item in group:
            by_stream.setdefault(item.stream, []).extend(
                Delivery(item.topic, 0, next(self._offsets), value, headers=item.headers)
                for value in item.values
            )
        for stream, deliveries in by_stream.items():
            first, last = deliveries[0], deliveries[-1]
            intent = Intent(f"{EMBEDDED_GROUP}/{commit}", first.topic, 0, first.offset, last.offset)
            await self._writers[stream].write(deliveries, intent)
        self.commits += 1
