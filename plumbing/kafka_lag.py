"""Consumer lag of the agent groups: how many messages each group has not committed yet."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def consumer_lag(bootstrap: str, groups: Sequence[str], topics: Sequence[str]) -> dict[str, int]:
    """Uncommitted messages per consumer group over every partition of ``topics``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await consumer.start()
    await admin.start()
    try:
        tps = [
            TopicPartition(topic, p) for topic in topics for p in sorted(await partitions(consumer, topic))
        ]
        ends = await consumer.end_offsets(tps)
        result = {}
        for group in groups:
            committed = await admin.list_consumer_group_offsets(group)
            behind = 0
            for tp in tps:
                meta = committed.get(tp)
                behind += ends[tp] - (meta.offset if meta is not None and meta.offset >= 0 else 0)
            result[group] = behind
        return result
    finally:
        await admin.close()
        await consumer.stop()


async def partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    known = consumer.partitions_for_topic(topic)
    if not known:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - the public API caches a miss
        known = consumer.partitions_for_topic(topic)
    return set(known or ())
