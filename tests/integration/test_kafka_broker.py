"""A real broker: create a topic, produce, consume — through aiokafka, as the services do."""

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from plumbing.kafka_admin import ensure_topics
from schemas.topics import Stream, registry

pytestmark = pytest.mark.kafka


async def test_topic_create_produce_consume_round_trip(kafka_bootstrap: str) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}."
    specs = list(registry(prefix, partitions=3).values())
    created = await ensure_topics(kafka_bootstrap, specs)
    assert sorted(created) == sorted([s.name for s in specs] + [s.dead_letter_name for s in specs])
    assert await ensure_topics(kafka_bootstrap, specs) == []  # idempotent

    topic = registry(prefix)[Stream.EVENTS].name
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True, compression_type="lz4"
    )
    await producer.start()
    try:
        metadata = await producer.send_and_wait(topic, b'{"hello":"kafka"}', key=b"default:user_1")
    finally:
        await producer.stop()
    assert metadata.topic == topic

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=f"test-{uuid.uuid4().hex[:8]}",
    )
    await consumer.start()
    try:
        message = await consumer.getone()
    finally:
        await consumer.stop()
    assert (message.key, message.value) == (b"default:user_1", b'{"hello":"kafka"}')
    assert message.partition == metadata.partition and message.offset == metadata.offset
