"""Consumer lag of the agent groups: how many messages each group has not committed yet."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata


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
                behind += uncommitted(ends[tp], committed.get(tp))
            result[group] = behind
        return result
    finally:
        await admin.close()
        await consumer.stop()


def uncommitted(end: int, committed: OffsetAndMetadata | None) -> int:
    """Messages of a partition ending at offset ``end`` that its group has not committed (all of them when
    the group never committed there)."""
    return max(0, end - (committed.offset if committed is not None and committed.offset >= 0 else 0))


async def partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    known = consumer.partitions_for_topic(topic)
    if not known:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - the public API caches a miss
        known = consumer.partitions_for_topic(topic)
    return set(known or ())
