"""Creating the registry's topics on a Kafka cluster (idempotent: existing topics are left alone)."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas.topics import DEAD_LETTER_RETENTION_MS, TopicSpec

TOPIC_ALREADY_EXISTS = 36


class KafkaAdminError(RuntimeError):
    """The cluster refused to create a topic."""


async def ensure_topics(bootstrap: str, specs: list[TopicSpec], replication_factor: int = 1) -> list[str]:
    """Create every missing topic (and its dead-letter topic) of ``specs``; return the names created."""
    wanted: dict[str, NewTopic] = {}
    for spec in specs:
        wanted[spec.name] = NewTopic(
            spec.name,
            spec.partitions,
            replication_factor,
            topic_configs={"retention.ms": str(spec.retention_ms)},
        )
        wanted[spec.dead_letter_name] = NewTopic(
            spec.dead_letter_name,
            1,
            replication_factor,
            topic_configs={"retention.ms": str(DEAD_LETTER_RETENTION_MS)},
        )
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic for name, topic in wanted.items() if name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(missing)
        created: list[str] = []
        for topic_error in response.topic_errors:
            name, code = topic_error[0], topic_error[1]
            if code == 0:
                created.append(name)
            elif code != TOPIC_ALREADY_EXISTS:  # a concurrent creator won the race: fine
                raise KafkaAdminError(f"could not create topic {name}: {topic_error}")
        return created
    finally:
        await admin.close()
