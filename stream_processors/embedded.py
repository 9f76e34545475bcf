"""The in-process bus of the embedded mode (``analytics dev``): the gateway's :class:`EventSink` backed by
the very processing steps of the Faust agents (decode → transforms → inserts), without Kafka.

Contract of :meth:`EmbeddedSink.publish`: it returns once the events' raw rows *and* rollup feed rows are
in ClickHouse, so an acknowledged event never lives only in memory. Concurrent requests are grouped into
shared inserts (group commit): one committer task drains everything queued, writes it, then wakes every
waiting request. A full queue, or no commit within the produce timeout (store unavailable), raises
:class:`SinkUnavailable`, which the gateway answers with 503 and ``Retry-After``.

An insert's cost is mostly fixed (a part in every materialized view's table) and spent largely waiting
inside the engine, so the sink keeps several inserts going: up to ``in_flight`` commits at once (the next
group forms while earlier ones are written), each on a *lane* of its own :class:`Storage` objects (engine
connections), over which the tables of that commit are written concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from ingest_gateway.sink import Record, SinkUnavailable
from schemas.topics import Stream, registry
from stream_processors.pipeline import Delivery, decode
from stream_processors.settings import WorkerSettings
from stream_processors.storage import Storage
from stream_processors.transforms import TableBatch, feed_rows, raw_rows

log = logging.getLogger(__name__)


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
        storages: Sequence[Storage],
        timeout_s: float = 10.0,
        max_queue: int = 10_000,
        in_flight: int = 1,
    ) -> None:
        if not 1 <= in_flight <= len(storages):
            raise ValueError("in_flight must be between 1 and the number of storages")
        self._settings = settings
        self._storages = list(storages)
        self._lanes: asyncio.Queue[list[Storage]] = asyncio.Queue()
        for lane in range(in_flight):
            self._lanes.put_nowait(self._storages[lane::in_flight])
        self._timeout_s = timeout_s
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=max_queue)
        self._streams = {spec.name: stream for stream, spec in registry(settings.topic_prefix).items()}
        self._zones = settings.zone_lookup()
        self._committer: asyncio.Task[None] | None = None
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
        for storage in self._storages:
            storage.close()

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

    async def _commit_forever(self) -> None:
        """Form a group once a lane is free (so groups grow while every lane is busy), commit it aside."""
        settling: set[asyncio.Task[None]] = set()
        while True:
            group = [await self._queue.get()]
            lane = await self._lanes.get()
            while not self._queue.empty() and len(group) < 5_000:
                group.append(self._queue.get_nowait())
            task = asyncio.create_task(self._settle(group, lane))
            settling.add(task)
            task.add_done_callback(settling.discard)

    async def _settle(self, group: list[_Pending], lane: list[Storage]) -> None:
        """Commit ``group``, then answer each waiter and give the lane back."""
        try:
            await self._commit(group, lane)
        except Exception as exc:  # noqa: BLE001 - every waiter learns of the failure
            log.exception("embedded commit failed")
            for item in group:
                if not item.done.done():
                    item.done.set_exception(SinkUnavailable(str(exc)))
        else:
            for item in group:
                if not item.done.done():
                    item.done.set_result(None)
        finally:
            self._lanes.put_nowait(lane)
            for _ in group:
                self._queue.task_done()

    async def _commit(self, group: list[_Pending], lane: list[Storage]) -> None:
        commit = uuid.uuid4().hex
        by_stream: dict[Stream, list[Delivery]] = {}
        for item in group:
            deliveries = by_stream.setdefault(item.stream, [])
            deliveries.extend(
                Delivery(item.topic, 0, len(deliveries) + i, v) for i, v in enumerate(item.values)
            )
        tables: list[TableBatch] = []
        for stream, deliveries in by_stream.items():
            events, letters = decode(stream, deliveries)
            for letter in letters:
                log.error(
                    "embedded: dropping an event the gateway accepted but %s refused: %s",
                    letter.step,
                    letter.error,
                )
            tables.extend([*raw_rows(stream, events), *feed_rows(stream, events, self._zones)])
        await asyncio.gather(
            *(
                lane[index % len(lane)].insert(table, f"embedded/{commit}/{table.table}")
                for index, table in enumerate(tables)
            )
        )
        self.commits += 1
