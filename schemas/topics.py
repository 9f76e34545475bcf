"""The Kafka topic registry: one topic per stream plus a dead-letter topic per stream.

Producers (the gateway), consumers (the workers) and the ``topics`` command all take names from here, so a
stream is named in exactly one place. Messages are keyed by ``tenant_id:user_id`` so one user's events stay
ordered within a partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DAY_MS = 24 * 60 * 60 * 1000


class Stream(StrEnum):
    """The product-analytics streams, named as in the gateway routes."""

    EVENTS = "events"
    PERFORMANCE = "performance"
    USAGE = "usage"
    ACTIVITIES = "activities"


@dataclass(frozen=True)
class TopicSpec:
    stream: Stream
    name: str
    dead_letter_name: str
    partitions: int
    retention_ms: int
    schema_version: int
    key: str = "tenant_id:user_id"


SCHEMA_VERSION = 1
DEFAULT_PARTITIONS = 6
DEFAULT_RETENTION_MS = 7 * DAY_MS
DEAD_LETTER_RETENTION_MS = 30 * DAY_MS


def topic_for(stream: Stream, prefix: str = "analytics.", partitions: int = DEFAULT_PARTITIONS) -> TopicSpec:
    """The topic of ``stream`` under ``prefix`` (see ``ANALYTICS_TOPIC_PREFIX``)."""
    name = f"{prefix}{stream.value}"
    return TopicSpec(
        stream=stream,
        name=name,
        dead_letter_name=f"{name}.dlq",
        partitions=partitions,
        retention_ms=DEFAULT_RETENTION_MS,
        schema_version=SCHEMA_VERSION,
    )


def registry(prefix: str = "analytics.", partitions: int = DEFAULT_PARTITIONS) -> dict[Stream, TopicSpec]:
    """Every stream's topic under ``prefix``."""
    return {stream: topic_for(stream, prefix, partitions) for stream in Stream}


def message_key(tenant_id: str, user_id: str) -> bytes:
    """The partitioning key: all of one user's events in one partition, in order."""
    return f"{tenant_id}:{user_id}".encode()
