"""The worker as operators run it — Faust agents in their own process — on the real broker and chDB:
end to end against the oracle, with poison messages, and with SIGKILLs at random moments."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.topics import registry
from tests.support import rollup_oracle as oracle
from tests.support.kafka_worker import (
    OUT_OF_RANGE,
    PARTITIONS,
    Deployment,
    Workers,
    assert_matches_oracle,
    group_members,
    produce,
    release,
    wait_caught_up,
)
from tests.support.processes import stop

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


@pytest.fixture
def deployment(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Deployment]:
    tag = uuid.uuid4().hex[:8]
    yield Deployment(kafka_bootstrap, f"w-{tag}.", f"w-{tag}-", f"chdb://{tmp_path / 'chdb'}", "analytics")


async def dead_letter_count(deployment: Deployment) -> int:
    topics = [spec.dead_letter_name for spec in registry(deployment.prefix).values()]
    consumer = AIOKafkaConsumer(bootstrap_servers=deployment.bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(t, 0) for t in topics])
        return int(sum(ends.values()))
    finally:
        await consumer.stop()


async def test_worker_writes_raw_rows_and_oracle_equal_rollups_and_dead_letters_poison(
    deployment: Deployment,
) -> None:
    generated = oracle.generate(6_000, users=50, seed=3)
    deployment.commit_interval_s = 0.2  # the lag reaches 0 soon after the last batch is stored
    with Workers(deployment) as workers:  # the worker imports while the store is migrated
        # ~1% of messages poison, out-of-range rows among valid ones, 150 events per stream delivered twice
        _, poison = await asyncio.gather(
            deployment.migrate_async(),
            produce(deployment, generated, poison_every=100, inject=True, retried=150),
        )
        assert poison > 0
        worker = workers.start()
        try:
            await wait_caught_up(deployment, worker, timeout=240)  # lag back to 0: nothing stalls
        finally:
            stop(worker)
    assert_matches_oracle(deployment, generated)
    # each poison message and each out-of-range row is dead-lettered once, whatever the agent groups
    injected = sum(len(rows) for rows in OUT_OF_RANGE.values())
    assert await dead_letter_count(deployment) == poison + injected


async def test_sigkill_at_random_moments_loses_and_duplicates_nothing(deployment: Deployment) -> None:
    generated = oracle.generate(50_000, users=80, seed=9)
    deployment.migrate()
    await produce(deployment, generated)
    rng = random.Random(77)
    kills = 0
    while kills < 5:
        worker = deployment.start_worker()
        await asyncio.sleep(rng.uniform(4.0, 12.0))
        if worker.poll() is not None:
            raise AssertionError(worker.stderr.read().decode()[-3000:] if worker.stderr else "worker died")
        worker.kill()  # SIGKILL: no flush, no commit, no goodbye
        worker.wait()
        kills += 1
    worker = deployment.start_worker()
    try:
        await wait_caught_up(deployment, worker, timeout=400)
    finally:
        stop(worker)
    assert_matches_oracle(deployment, generated)


async def test_two_members_of_one_group_split_partitions_and_equal_the_oracle(deployment: Deployment) -> None:
    """Two members of the rollups group in one process (chDB's store is one process's) split the partitions
    and together store what the oracle computes. 6,000 events in batches of 50: the first member starts
    alone, and about three quarters of the messages are still left for both when the second has joined."""
    generated = oracle.generate(6_000, users=60, seed=21)
    # many small batches, committed every 0.2 s (the lag reaches 0 soon after the last one is stored)
    members_of = dataclasses.replace(deployment, batch_max_messages=50, commit_interval_s=0.2)
    members = members_of.spare("tests.support.two_members")  # imports while the store is migrated
    try:
        await asyncio.gather(deployment.migrate_async(), produce(deployment, generated))
        release(members)
        deadline = time.monotonic() + 60
        while True:
            assigned = await group_members(deployment, f"{deployment.group_prefix}rollups")
            if len(assigned) == 2 and all(assigned):
                break
            assert time.monotonic() < deadline, f"members never both got partitions: {assigned}"
            await asyncio.sleep(0.2)
        assert assigned[0].isdisjoint(assigned[1]) and assigned[0] | assigned[1] == set(range(PARTITIONS))
        await wait_caught_up(deployment, members, timeout=240, groups=("rollups",))
    finally:
        stop(members)
    assert_matches_oracle(deployment, generated, raw=False)
