"""The failure model of ADR 0013 through the real pipeline steps and real ClickHouse (the log in memory):
out-of-range events injected into a topic are dead-lettered once while the rest of their batch is stored;
rows the store refuses are isolated, dead-lettered once by their group, and a replay after the fix counts
them exactly once; client retries (same ids, later messages) change no table. Every table is compared with
the independent oracle of tests/support/rollup_oracle.py. The Faust/Kafka wiring of the same steps is
tested in test_worker_kafka.py and test_dlq.py."""

from __future__ import annotations

import random

import orjson
import pytest

from cli.dlq import Letter
from plumbing.migrate import migrate
from plumbing.shutdown import ShutdownSettings
from plumbing.storage import Storage
from schemas.messages import encode_batch
from schemas.rollups import Grain, rollup
from schemas.rows import RAW_TABLES
from schemas.topics import Stream, registry
from stream_processors.dead_letters import DeadLetter
from stream_processors.embedded import EmbeddedSink
from stream_processors.intents import IntentLog
from stream_processors.pipeline import AgentGroup, BatchWriter, Delivery, ExactlyOncePartitions
from stream_processors.settings import WorkerSettings, ZoneLookup
from tests.conftest import ClickHouseTarget
from tests.support import rollup_oracle as oracle
from tests.support.pipeline import POISON_USER, InMemoryLog, RecordingDeadLetters, RefusingWriter
from tests.support.rollup_reads import assert_events_match, rows, select_sql

pytestmark = pytest.mark.clickhouse

OUT_OF_RANGE = ["1969-12-31T23:59:59.000Z", "1970-01-04T12:00:00.000Z", "0002-01-01T12:02:08.000Z"]


async def deliver(log: InMemoryLog, handlers: list[ExactlyOncePartitions], start: dict[int, int]) -> None:
    """Every message from ``start`` on, to every group, as Kafka would (then ``start`` moves: 'lag 0')."""
    for handler in handlers:
        for chunk in log.chunks(start, random.Random(5), max_chunk=40):
            await handler.handle(chunk)
    for partition, messages in enumerate(log.partitions):
        start[partition] = len(messages)


def replayed(letter: DeadLetter, log: InMemoryLog) -> None:
    """What ``analytics dlq replay`` produces: the letter's event, its key, partition and headers."""
    consumed = Letter(0, letter.value, {k: v.decode() for k, v in letter.headers(oracle.ANCHORS[0])})
    headers = dict(consumed.replay_headers())
    partition = consumed.source_partition
    assert partition is not None
    messages = log.partitions[partition]
    messages.append(
        Delivery(log.topic, partition, len(messages), consumed.replay_value(), letter.key, headers)
    )


async def test_poison_is_isolated_dead_lettered_once_and_replayed_once(clickhouse: ClickHouseTarget) -> None:
    client = clickhouse.client()
    migrate(client)
    events = oracle.generate(1_500, users=12).events
    rng = random.Random(7)
    storage = Storage(clickhouse.client)
    intents = IntentLog(storage)
    zones = ZoneLookup("UTC", oracle.TENANT_ZONES)
    letters = {group: RecordingDeadLetters() for group in AgentGroup}
    writers = {
        AgentGroup.RAW: BatchWriter(
            Stream.EVENTS, AgentGroup.RAW, "g-raw", storage, intents, letters[AgentGroup.RAW], zones
        ),
        AgentGroup.ROLLUPS: RefusingWriter(
            Stream.EVENTS,
            AgentGroup.ROLLUPS,
            "g-rollups",
            storage,
            intents,
            letters[AgentGroup.ROLLUPS],
            zones,
        ),
    }
    log = InMemoryLog("t.events")
    handlers = [ExactlyOncePartitions(w, intents, log) for w in writers.values()]

    # out-of-range times injected among valid events, and one user whose rollup rows the store refuses
    injected = [
        {**events[i], "id": f"00000000-0000-4000-8000-00000000000{i}", "timestamp": t}
        for i, t in enumerate(OUT_OF_RANGE)
    ]
    poison = {**events[10], "id": "00000000-0000-4000-8000-0000000000aa", "user_id": POISON_USER}
    sent = [*events[:700], *injected, poison, *events[700:]]
    log.append_events(sent, rng)
    # client retries: 200 events chose their ids (client_keyed) and reach the topic a second time
    keyed = {e["id"] for e in events[100:300]}
    for partition in log.partitions:
        for i, delivery in enumerate(partition):
            batch = orjson.loads(delivery.value)["events"]
            for e in batch:
                e["client_keyed"] = e["id"] in keyed
            partition[i] = Delivery(delivery.topic, delivery.partition, delivery.offset, encode_batch(batch))
    log.append_events([{**e, "client_keyed": True} for e in events[100:300]], rng)
    start = dict.fromkeys(range(len(log.partitions)), 0)
    await deliver(log, handlers, start)

    # one letter per injected event, written by the raw group alone; one store letter from rollups
    raw_letters = letters[AgentGroup.RAW].letters
    assert sorted(orjson.loads(x.value)["timestamp"] for x in raw_letters) == sorted(OUT_OF_RANGE)
    assert {x.step for x in raw_letters} == {"validate"}
    (refused,) = letters[AgentGroup.ROLLUPS].letters
    assert (refused.step, refused.group, orjson.loads(refused.value)["id"]) == (
        "store",
        "rollups",
        poison["id"],
    )
    assert refused.key == f"{poison['tenant_id']}:{POISON_USER}".encode()
    # raw has the poison event (only its rollup rows were refused); rollups have every other event once
    ((raw_count,),) = rows(client, f"SELECT count() FROM {RAW_TABLES[Stream.EVENTS]}")
    assert raw_count == len(events) + 1
    counts, _ = oracle.expected_user_events(events, Grain.DAY.value)
    got = rows(
        client,
        select_sql(
            rollup("user_events"),
            Grain.DAY,
            ["tenant_id", "user_id", "bucket", "event_type", "event_category", "event_name"],
        ),
    )
    assert {r[:6]: r[6] for r in got} == counts

    # a replay while the cause is still there: refused again, the same letter id, raw untouched
    replayed(refused, log)
    await deliver(log, handlers, start)
    (again,) = letters[AgentGroup.ROLLUPS].letters[1:]
    assert (again.letter_id, again.group) == (refused.letter_id, "rollups")
    assert letters[AgentGroup.RAW].letters == raw_letters
    # fixed: the replay (delivered twice, as a replay command that died before committing would) counts once
    writers[AgentGroup.ROLLUPS].broken = False  # type: ignore[attr-defined]
    replayed(refused, log)
    replayed(refused, log)
    await deliver(log, handlers, start)
    assert_events_match(client, [*events, poison])
    assert len(letters[AgentGroup.ROLLUPS].letters) == 2 and len(letters[AgentGroup.RAW].letters) == 3
    client.close()


async def test_embedded_bus_letters_injected_rows_once_and_stores_the_rest(
    clickhouse: ClickHouseTarget,
) -> None:
    client = clickhouse.client()
    migrate(client)
    generated = oracle.generate(600, users=8, seed=12)
    settings = WorkerSettings(
        clickhouse_url=clickhouse.url,
        clickhouse_database=clickhouse.database,
        tenant_timezones=oracle.TENANT_ZONES,
    )
    sink = EmbeddedSink(settings, Storage(clickhouse.client), ShutdownSettings(), timeout_s=60)
    await sink.start()
    injected = {
        Stream.EVENTS: [
            {**generated.events[i], "id": f"00000000-0000-4000-8000-00000000001{i}", "timestamp": t}
            for i, t in enumerate(OUT_OF_RANGE)
        ],
        Stream.USAGE: [
            {**generated.usage[0], "id": "00000000-0000-4000-8000-000000000020", "date": "1969-12-31"}
        ],
    }
    topics = {stream: spec.name for stream, spec in registry(settings.topic_prefix).items()}
    try:
        for stream, rows_of in ((Stream.EVENTS, generated.events), (Stream.USAGE, generated.usage)):
            bad = injected[stream]
            # each bad row inside a message of valid ones, as a producer other than the gateway might send
            for start in range(0, len(rows_of), 50):
                chunk = list(rows_of[start : start + 50])
                if bad:
                    chunk.insert(len(chunk) // 2, bad.pop())
                await sink.publish(topics[stream], [(0, b"k", encode_batch(chunk))], [])
    finally:
        await sink.stop()
    client = clickhouse.client()
    letters = rows(client, "SELECT step, topic, value FROM dead_letters FINAL ORDER BY value")
    assert sorted(
        orjson.loads(v).get("timestamp") or orjson.loads(v)["date"] for _, _, v in letters
    ) == sorted([*OUT_OF_RANGE, "1969-12-31"])
    assert {step for step, _, _ in letters} == {"validate"}
    assert_events_match(client, generated.events)
    days = {(e["tenant_id"], e["user_id"], e["date"]) for e in generated.usage}
    assert rows(client, f"SELECT count() FROM {RAW_TABLES[Stream.USAGE]} FINAL") == [(len(days),)]
    client.close()
