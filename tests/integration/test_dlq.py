"""Dead letters on the real broker: listed with their headers, replayed once to the source topic."""

from __future__ import annotations

import uuid

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from schemas.kafka_admin import ensure_topics
from schemas.messages import unpack_batch
from schemas.topics import Stream, registry
from stream_processors.dead_letters import DeadLetter, KafkaDeadLetters
from stream_processors.dlq import list_letters, replay_letters

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
