"""Rollups and raw sinks against an independent oracle, through the real pipeline steps and real ClickHouse,
with crashes injected at random points (before/after intents, between table inserts, before commits) and
redelivery from the committed offsets, as Kafka would do. The Faust/Kafka wiring is tested end to end in
test_worker_kafka.py; here the log is in memory so thousands of crash points run in seconds."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from clickhouse_connect.driver.client import Client

from plumbing.migrate import migrate
from plumbing.storage import Storage
from schemas.rollups import Grain, rollup
from schemas.rows import RAW_TABLES, TableBatch
from schemas.topics import Stream
from stream_processors.intents import IntentLog
from stream_processors.pipeline import AgentGroup, BatchWriter, ExactlyOncePartitions
from stream_processors.settings import ZoneLookup
from tests.conftest import ClickHouseTarget
from tests.support import rollup_oracle as oracle
from tests.support.pipeline import InMemoryLog, RecordingDeadLetters
from tests.support.rollup_reads import rows, select_sql

pytestmark = pytest.mark.clickhouse


class SimulatedCrash(Exception):
    pass


class CrashingStorage(Storage):
    """Real storage that 'crashes the process' (raises) at the n-th insert, before or after doing it."""

    def __init__(self, open_client: Callable[[], Client], rng: random.Random) -> None:
        super().__init__(open_client)
        self.rng = rng
        self.countdown = 10**9
        self.inserts = 0

    def arm(self, within: int) -> None:
        self.countdown = self.rng.randint(1, within)

    async def insert(self, batch: TableBatch, token: str) -> None:
        self.countdown -= 1
        crashing = self.countdown == 0  # decided now: other partitions' batches insert meanwhile
        if crashing and self.rng.random() < 0.5:
            raise SimulatedCrash("before insert")
        await super().insert(batch, token)
        self.inserts += 1
        if crashing:
            raise SimulatedCrash("after insert")


async def run_with_crashes(
    log: InMemoryLog,
    make_handler: Callable[[], ExactlyOncePartitions],
    storage: CrashingStorage,
    rng: random.Random,
    crashes_wanted: int,
) -> int:
    """Deliver the whole log like Kafka+Faust would, crashing ``crashes_wanted`` times; return crashes."""
    committed = dict.fromkeys(range(len(log.partitions)), 0)
    crashes = 0
    while True:
        handler = make_handler()  # a restarted process: no memory of the previous one
        if crashes < crashes_wanted:
            storage.arm(within=6)
        try:
            for chunk in log.chunks(committed, rng, max_chunk=rng.choice([50, 200, 400])):
                await handler.handle(chunk)
                if crashes < crashes_wanted and rng.random() < 0.05:
                    raise SimulatedCrash("after inserts, before the commit")
                for delivery in chunk:
                    committed[delivery.partition] = max(committed[delivery.partition], delivery.offset + 1)
            storage.countdown = 10**9
            return crashes
        except SimulatedCrash:
            crashes += 1


async def test_rollups_and_raw_tables_equal_the_oracle_despite_crashes(clickhouse: ClickHouseTarget) -> None:
    """Five crashes in each stream's delivery to each group (40 in all), then everything equals the oracle.

    6,000 events: the time goes by inserts (each a fixed cost in ClickHouse, whatever its rows), not by
    rows, and this is enough for every delivery to meet its five crashes before the log is drained (the
    smallest stream, usage, has about 300 events) and for the oracle to compare thousands of buckets."""
    rng = random.Random(2026)
    client = clickhouse.client()
    migrate(client)
    generated = oracle.generate(6_000, users=60)
    storage = CrashingStorage(clickhouse.client, rng)
    intents = IntentLog(storage)
    zones = ZoneLookup("UTC", oracle.TENANT_ZONES)
    dead_letters = RecordingDeadLetters()
    by_stream = {
        Stream.EVENTS: generated.events,
        Stream.PERFORMANCE: generated.performance,
        Stream.USAGE: generated.usage,
        Stream.ACTIVITIES: generated.activities,
    }
    total_crashes = 0
    for stream, events in by_stream.items():
        log = InMemoryLog(f"t.{stream.value}")
        log.append_events(events, rng)
        for group in AgentGroup:

            def make_handler(
                stream: Stream = stream, group: AgentGroup = group, log: InMemoryLog = log
            ) -> ExactlyOncePartitions:
                writer = BatchWriter(stream, group, f"g-{group.value}", storage, intents, dead_letters, zones)
                return ExactlyOncePartitions(writer, intents, log)

            total_crashes += await run_with_crashes(log, make_handler, storage, rng, crashes_wanted=5)
    assert total_crashes >= 40
    assert dead_letters.letters == []

    # raw tables: exactly one row per event id, no FINAL needed
    for stream, events in by_stream.items():
        table = RAW_TABLES[stream]
        if stream is Stream.USAGE:  # one summary per user and day: the newest one wins
            days = {(e["tenant_id"], e["user_id"], e["date"]) for e in events}
            ((count,),) = rows(client, f"SELECT count() FROM {table} FINAL")
            assert count == len(days)
            continue
        ((count, distinct),) = rows(client, f"SELECT count(), uniqExact(id) FROM {table}")
        assert (count, distinct) == (len(events), len(events)), table

    for grain in Grain:
        counts, sessions = oracle.expected_user_events(generated.events, grain.value)
        got = rows(
            client,
            select_sql(
                rollup("user_events"),
                grain,
                ["tenant_id", "user_id", "bucket", "event_type", "event_category", "event_name"],
            ),
        )
        assert {r[:6]: r[6] for r in got} == counts
        got_sessions = rows(
            client, select_sql(rollup("user_events"), grain, ["tenant_id", "user_id", "bucket"])
        )
        assert {r[:3]: r[4] for r in got_sessions} == sessions

        got = rows(
            client, select_sql(rollup("page_views"), grain, ["tenant_id", "user_id", "bucket", "page"])
        )
        assert {r[:4]: (r[4], r[5]) for r in got} == oracle.expected_page_views(generated.events, grain.value)

        got = rows(
            client,
            select_sql(rollup("session_pages"), grain, ["tenant_id", "user_id", "bucket", "session_id"]),
        )
        if grain in rollup("session_pages").grains:
            want_sessions = oracle.expected_session_pages(generated.events, grain.value)
            assert want_sessions
        else:  # daily only (schemas/rollups.py)
            want_sessions = {}
        assert {r[:4]: (r[4], r[5]) for r in got} == want_sessions

        got = rows(
            client,
            select_sql(
                rollup("user_activities"),
                grain,
                ["tenant_id", "user_id", "bucket", "activity_type", "activity_category", "severity"],
            ),
        )
        assert {r[:6]: r[6] for r in got} == oracle.expected_activities(generated.activities, grain.value)

        usage = rollup("user_usage")
        got = rows(client, select_sql(usage, grain, ["tenant_id", "user_id", "bucket"]))
        assert {r[:3]: tuple(r[3:7]) for r in got} == oracle.expected_usage(generated.usage, grain.value)

        perf = rollup("user_performance")
        got = rows(client, select_sql(perf, grain, ["tenant_id", "user_id", "bucket", "page"]))
        expected = oracle.expected_performance(generated.performance, grain.value)
        names = [m.name for m in perf.measures]
        assert len(got) == len(expected)
        for row in got:
            values = dict(zip(names, row[4:], strict=True))
            want = expected[row[:4]]
            assert values["samples"] == want["samples"]
            for metric in [*oracle.VITALS, "cumulative_layout_shift"]:
                assert values[f"avg_{metric}"] == pytest.approx(want[f"avg_{metric}"], rel=1e-9, abs=1e-9)
                ordered = want[f"values_{metric}"]
                for q, estimate in zip((0.5, 0.75, 0.95), values[f"q_{metric}"], strict=True):
                    # t-digest: the estimate lies between the exact neighbouring order statistics
                    low = ordered[max(0, int(q * len(ordered)) - 1)]
                    high = ordered[min(len(ordered) - 1, int(q * len(ordered)) + 1)]
                    assert low - 1e-6 <= estimate <= high + 1e-6, (metric, q, estimate, low, high)
    client.close()
