"""The in-process bus of the embedded mode (``analytics dev``): the gateway's :class:`EventSink` backed by
the very processing steps of the Faust agents (decode → transforms → inserts), without Kafka.

Contract of :meth:`EmbeddedSink.publish`: it returns once the events' raw rows *and* rollup feed rows are
in ClickHouse, so an acknowledged event never lives only in memory. Concurrent requests are grouped into
shared inserts (group commit): one committer task drains everything queued, writes it, then wakes every
waiting request. A full queue, or no commit within the produce timeout (store unavailable), raises
:class:`SinkUnavailable`, which the gateway answers with 503 and ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from ingest_gateway.sink import Record, SinkUnavailable
from schemas.topics import Stream, registry
from stream_processors.pipeline import Delivery, decode
from stream_processors.settings import WorkerSettings
from stream_processors.storage import Storage
from stream_processors.tracking import TrackingFilter
from stream_processors.transforms import TableBatch, feed_rows, raw_rows

log = logging.getLogger(__name__)

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


class EmbeddedSink:
    def __init__(
        self,
        settings: WorkerSettings,
        storage: Storage,
        timeout_s: float = 10.0,
        max_queue: int = 10_000,
    ) -> None:
        self._settings = settings
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

    async def start(self) -> None:
        self._committer = asyncio.create_task(self._commit_forever(), name="embedded-committer")

    async def stop(self) -> None:
        """Write what is queued (the committer marks each item done after its commit), then stop."""
        if self._committer is not None and not self._committer.done():
            await self._queue.join()
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
        self._storage.close()

    async def ready(self) -> bool:
        return self._committer is not None and not self._committer.done()

    async def partitions(self, topic: str) -> int:
        return 1

    async def publish(self, topic: str, records: Sequence[Record], headers: list[tuple[str, bytes]]) -> None:
        stream = self._streams.get(topic)
        if stream is None:
            raise SinkUnavailable(f"unknown topic {topic}")
        pending = _Pending(
            stream, topic, [value for _, _, value in records], asyncio.get_running_loop().create_future()
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
            except Exception as exc:  # noqa: BLE001 - every waiter learns of the failure
                log.exception("embedded commit failed")
                for item in group:
                    if not item.done.done():
                        item.done.set_exception(SinkUnavailable(str(exc)))
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
            deliveries = by_stream.setdefault(item.stream, [])
            deliveries.extend(
                Delivery(item.topic, 0, len(deliveries) + i, v) for i, v in enumerate(item.values)
            )
        for stream, deliveries in by_stream.items():
            decoded, letters = decode(stream, deliveries)
            events = self.tracking.keep(stream, decoded)
            for letter in letters:
                log.error(
                    "embedded: dropping an event the gateway accepted but %s refused: %s",
                    letter.step,
                    letter.error,
                )
            tables: list[TableBatch] = [*raw_rows(stream, events), *feed_rows(stream, events, self.zones)]
            for table in tables:
                await self._storage.insert(table, f"embedded/{commit}/{table.table}")
        self.commits += 1
