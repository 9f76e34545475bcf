"""ClickHouse failing mid-run: the batch is retried, never acknowledged meanwhile, and nothing is lost or
counted twice once it is back. Failures are injected in the client the storage opens (chDB has no server
to stop); everything else is real."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import OperationalError

from plumbing.migrate import migrate
from plumbing.storage import Storage
from schemas.rollups import Grain, rollup
from schemas.topics import Stream
from stream_processors.intents import IntentLog
from stream_processors.pipeline import AgentGroup, BatchWriter, ExactlyOncePartitions
from stream_processors.settings import ZoneLookup
from tests.conftest import ClickHouseTarget
from tests.support import rollup_oracle as oracle
from tests.support.pipeline import InMemoryLog, RecordingDeadLetters
from tests.support.rollup_reads import select_sql

pytestmark = pytest.mark.clickhouse


class Outage:
    def __init__(self) -> None:
        self.down = False
        self.refused = 0


class FlakyClient:
    """A real client whose inserts and queries fail like an unreachable server while ``outage.down``."""

    def __init__(self, client: Client, outage: Outage) -> None:
        self._client = client
        self._outage = outage

    def _check(self) -> None:
        if self._outage.down:
            self._outage.refused += 1
            raise OperationalError("Error HTTPConnectionPool: connection refused (injected)")

    def insert(self, *args: Any, **kwargs: Any) -> Any:
        self._check()
        return self._client.insert(*args, **kwargs)

    def query(self, *args: Any, **kwargs: Any) -> Any:
        self._check()
        return self._client.query(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


async def test_clickhouse_outage_mid_run_loses_and_duplicates_nothing(clickhouse: ClickHouseTarget) -> None:
    rng = random.Random(4)
    client = clickhouse.client()
    migrate(client)
    outage = Outage()
    storage = Storage(lambda: FlakyClient(clickhouse.client(), outage), retry_max_s=0.2)  # type: ignore[arg-type,return-value]
    intents = IntentLog(storage)
    generated = oracle.generate(3_000, users=20, seed=8)
    log = InMemoryLog("t.events")
    log.append_events(generated.events, rng)
    writer = BatchWriter(
        Stream.EVENTS,
        AgentGroup.ROLLUPS,
        "g",
        storage,
        intents,
        RecordingDeadLetters(),
        ZoneLookup("UTC", oracle.TENANT_ZONES),
    )
    handler = ExactlyOncePartitions(writer, intents, log)
    committed = dict.fromkeys(range(3), 0)
    chunks = log.chunks(committed, rng, max_chunk=60)
    outage_at = len(chunks) // 2
    for index, chunk in enumerate(chunks):
        if index == outage_at:
            outage.down = True
            task = asyncio.create_task(handler.handle(chunk))
            await asyncio.sleep(1.5)
            assert not task.done(), "a batch was reported written while ClickHouse was down"
            assert outage.refused >= 3 and storage.failures >= 3
            outage.down = False
            await asyncio.wait_for(task, timeout=30)
        else:
            await handler.handle(chunk)
        for delivery in chunk:  # the caller acknowledges only after handle() returned
            committed[delivery.partition] = delivery.offset + 1
    assert committed == {p: len(log.partitions[p]) for p in range(3)}
    for grain in Grain:
        counts, sessions = oracle.expected_user_events(generated.events, grain.value)
        got = client.query(
            select_sql(rollup("user_events"), grain, ["tenant_id", "user_id", "bucket"])
        ).result_rows
        assert {tuple(r[:3]): r[4] for r in got} == sessions
        assert sum(r[3] for r in got) == len(generated.events)
    client.close()
