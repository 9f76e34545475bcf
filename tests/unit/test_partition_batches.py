"""A chunk's partitions are written as concurrent batches (ADR 0021): one partition's batch runs while
another's waits on the store, a failure cancels the rest and is raised as it is, and a partition whose
batch did not finish is re-formed on its next delivery."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from stream_processors.intents import Intent
from stream_processors.pipeline import Delivery, ExactlyOncePartitions


class Boom(Exception):
    pass


class FakeWriter:
    """Records each batch's partition and offsets; ``hooks[partition]`` runs inside that partition's write."""

    consumer_group = "g"

    def __init__(self) -> None:
        self.written: list[tuple[int, list[int]]] = []
        self.hooks: dict[int, Any] = {}
        self.replays = 0

    async def write(self, deliveries: Sequence[Delivery], intent: Intent | None = None) -> None:
        partition = deliveries[0].partition
        hook = self.hooks.get(partition)
        if hook is not None:
            await hook()
        self.written.append((partition, [d.offset for d in deliveries]))

    def count_replay(self) -> None:
        self.replays += 1


class NoIntents:
    def __init__(self) -> None:
        self.asked: list[tuple[int, int]] = []

    async def open_since(self, group: str, topic: str, partition: int, offset: int) -> list[Intent]:
        self.asked.append((partition, offset))
        return []


class NoReader:
    async def read(self, topic: str, partition: int, first: int, last: int) -> list[Delivery]:
        raise AssertionError("no intent is open")


def chunk(*positions: tuple[int, int]) -> list[Delivery]:
    return [Delivery("t", partition, offset, b"") for partition, offset in positions]


def handler(writer: FakeWriter, intents: NoIntents) -> ExactlyOncePartitions:
    return ExactlyOncePartitions(writer, intents, NoReader())  # type: ignore[arg-type]


async def test_one_partitions_batch_runs_while_another_waits() -> None:
    writer, intents = FakeWriter(), NoIntents()
    second_started = asyncio.Event()

    async def wait_for_partition_1() -> None:  # sequential batches would wait here forever
        await asyncio.wait_for(second_started.wait(), timeout=5)

    async def start() -> None:
        second_started.set()

    writer.hooks = {0: wait_for_partition_1, 1: start}
    await handler(writer, intents).handle(chunk((0, 10), (1, 20), (0, 11), (1, 21)))
    assert sorted(writer.written) == [(0, [10, 11]), (1, [20, 21])]
    assert writer.written[0][0] == 1  # partition 1 finished first


async def test_a_failed_batch_cancels_the_others_raises_as_it_is_and_is_re_formed_next_time() -> None:
    writer, intents = FakeWriter(), NoIntents()
    eo = handler(writer, intents)
    await eo.handle(chunk((0, 0), (1, 0), (2, 0)))
    cancelled = asyncio.Event()

    async def fail() -> None:
        await asyncio.sleep(0)
        raise Boom("partition 0")

    async def hang() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    writer.hooks = {0: fail, 1: hang}
    with pytest.raises(Boom, match="partition 0"):
        await asyncio.wait_for(eo.handle(chunk((0, 1), (1, 1), (2, 1))), timeout=5)
    assert cancelled.is_set()
    assert (2, [1]) in writer.written and (0, [1]) not in writer.written and (1, [1]) not in writer.written
    # redelivered from the committed offsets: the unfinished partitions look for open intents again,
    # the finished one goes on
    writer.hooks = {}
    intents.asked.clear()
    await eo.handle(chunk((0, 1), (1, 1), (2, 2)))
    assert sorted(intents.asked) == [(0, 1), (1, 1)]
