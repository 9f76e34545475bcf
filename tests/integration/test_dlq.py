"""Dead letters on the real broker: listed with their headers, replayed once to the source topic."""

from __future__ import annotations

import uuid

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from cli.dlq import list_letters, replay_letters
from ingest_gateway.partitioner import partition_of
from plumbing.kafka_admin import ensure_topics
from plumbing.migrate import migrate
from plumbing.storage import Storage
from schemas.messages import encode_batch, unpack_batch
from schemas.topics import Stream, message_key, registry
from stream_processors.dead_letters import DeadLetter, KafkaDeadLetters
from stream_processors.intents import IntentLog
from stream_processors.kafka_reader import KafkaRangeReader
from stream_processors.pipeline import AgentGroup, BatchWriter, ExactlyOncePartitions
from stream_processors.settings import ZoneLookup
from tests.conftest import ClickHouseTarget
from tests.support import rollup_oracle as oracle
from tests.support.pipeline import POISON_USER, RefusingWriter
from tests.support.rollup_reads import assert_events_match

pytestmark = pytest.mark.kafka


async def test_letters_are_listed_with_headers_and_replayed_once(kafka_bootstrap: str) -> None:
    prefix = f"dlq-{uuid.uuid4().hex[:8]}."
    spec = registry(prefix, partitions=1)[Stream.EVENTS]
    await ensure_topics(kafka_bootstrap, [spec])
    sink = KafkaDeadLetters(kafka_bootstrap)
    invalid_event = orjson.dumps({"user_id": "u1", "event_type": "bogus"})
    await sink.send(
        [
            DeadLetter(b"{garbage", "not JSON", "decode", spec.name, 0, 7),
            DeadLetter(invalid_event, "event_type: bad", "validate", spec.name, 0, 8),
        ]
    )
    await sink.close()

    letters = await list_letters(kafka_bootstrap, spec.dead_letter_name)
    assert [(x.summary()["step"], x.summary()["source"]) for x in letters] == [
        ("decode", "0@7"),
        ("validate", "0@8"),
    ]
    assert letters[0].summary()["error"] == "not JSON"
    assert letters[1].summary()["failed_at"].endswith("Z")

    group = f"{prefix}dlq-replay"
    assert await replay_letters(kafka_bootstrap, spec.dead_letter_name, spec.name, group, limit=10) == 2
    assert await replay_letters(kafka_bootstrap, spec.dead_letter_name, spec.name, group, limit=10) == 0
    # read the source topic raw: the decode letter comes back as it was, the event wrapped in a batch
    consumer = AIOKafkaConsumer(
        spec.name,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=f"r-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    try:
        values = []
        while len(values) < 2:
            for records in (await consumer.getmany(timeout_ms=2000)).values():
                values.extend(r.value for r in records)
    finally:
        await consumer.stop()
    assert values[0] == b"{garbage"
    assert unpack_batch(values[1]) == [orjson.loads(invalid_event)]


async def _drain(
    bootstrap: str, topic: str, partitions: int, handlers: list[ExactlyOncePartitions], start: dict[int, int]
) -> None:
    """Every message of ``topic`` from ``start`` on through every handler, as each group's agent would;
    ``start`` then holds the end offsets (what a commit after the batch would store: lag 0)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    reader = KafkaRangeReader(bootstrap)
    for tp in tps:
        if ends[tp] > start[tp.partition]:
            deliveries = await reader.read(topic, tp.partition, start[tp.partition], ends[tp] - 1)
            for handler in handlers:
                await handler.handle(deliveries)
            start[tp.partition] = ends[tp]


@pytest.mark.clickhouse
async def test_one_poison_one_letter_replayed_once_into_raw_and_every_grain(
    kafka_bootstrap: str, clickhouse: ClickHouseTarget
) -> None:
    prefix = f"dlqr-{uuid.uuid4().hex[:8]}."
    partitions = 3
    spec = registry(prefix, partitions=partitions)[Stream.EVENTS]
    await ensure_topics(kafka_bootstrap, [spec])
    client = clickhouse.client()
    migrate(client)
    events = oracle.generate(400, users=9, seed=4).events
    poison = {**events[0], "id": "00000000-0000-4000-8000-0000000000bb", "user_id": POISON_USER}
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:  # as the gateway does: a message per partition, keyed tenant:user when it holds one user
        for event in [*events[:200], poison, *events[200:]]:
            key = message_key(event["tenant_id"], event["user_id"])
            await producer.send_and_wait(spec.name, encode_batch([event]), key=key)
    finally:
        await producer.stop()

    storage = Storage(clickhouse.client)
    intents = IntentLog(storage)
    zones = ZoneLookup("UTC", oracle.TENANT_ZONES)
    letters = KafkaDeadLetters(kafka_bootstrap)
    raw = BatchWriter(Stream.EVENTS, AgentGroup.RAW, f"{prefix}raw", storage, intents, letters, zones)
    rollups = RefusingWriter(
        Stream.EVENTS, AgentGroup.ROLLUPS, f"{prefix}rollups", storage, intents, letters, zones
    )
    reader = KafkaRangeReader(kafka_bootstrap)
    handlers = [ExactlyOncePartitions(w, intents, reader) for w in (raw, rollups)]
    start = dict.fromkeys(range(partitions), 0)
    group = f"{prefix}dlq-replay"
    try:
        await _drain(kafka_bootstrap, spec.name, partitions, handlers, start)
        (letter,) = await list_letters(kafka_bootstrap, spec.dead_letter_name)
        summary = letter.summary()
        assert (summary["step"], summary["group"]) == ("store", "rollups")
        assert letter.key == message_key(poison["tenant_id"], POISON_USER)

        # replayed while the cause is still there: refused again, still one letter (same id)
        assert await replay_letters(kafka_bootstrap, spec.dead_letter_name, spec.name, group, 10) == 1
        await _drain(kafka_bootstrap, spec.name, partitions, handlers, start)
        (again,) = await list_letters(kafka_bootstrap, spec.dead_letter_name)
        assert again.letter_id == letter.letter_id and again.offset > letter.offset

        # fixed: the replay lands in the user's partition and counts once in raw and every grain
        rollups.broken = False
        assert await replay_letters(kafka_bootstrap, spec.dead_letter_name, spec.name, group, 10) == 1
        await _drain(kafka_bootstrap, spec.name, partitions, handlers, start)
        assert await replay_letters(kafka_bootstrap, spec.dead_letter_name, spec.name, group, 10) == 0
    finally:
        await letters.close()
    own_partition = partition_of(message_key(poison["tenant_id"], POISON_USER), partitions)
    replays = [
        d
        for p in range(partitions)
        if start[p] > 0
        for d in await reader.read(spec.name, p, 0, start[p] - 1)
        if d.headers.get("dlq_letter_id")
    ]
    assert {d.partition for d in replays} == {own_partition} and len(replays) == 2
    assert_events_match(client, [*events, poison])
    client.close()
