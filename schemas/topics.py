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
    """Every stream: the product-analytics ones, named as in the gateway routes, and the learning
    platform's (ADR 0015, ``schemas.lms_payloads``)."""

    EVENTS = "events"
    PERFORMANCE = "performance"
    USAGE = "usage"
    ACTIVITIES = "activities"
    LMS_ENTITIES = "lms_entities"
    LMS_ACTIVITY = "lms_activity"
    LMS_TELEMETRY = "lms_telemetry"


PRODUCT_STREAMS = (Stream.EVENTS, Stream.PERFORMANCE, Stream.USAGE, Stream.ACTIVITIES)
"""The product-analytics seed's streams (tracking preferences and the raw export are about these)."""
LMS_STREAMS = (Stream.LMS_ENTITIES, Stream.LMS_ACTIVITY, Stream.LMS_TELEMETRY)
"""The learning platform's streams (ADR 0015)."""
TRACKABLE_STREAMS = (*PRODUCT_STREAMS, Stream.LMS_ACTIVITY)
"""The streams of what people do, which a person's tracking preferences govern. LMS entity upserts are the
platform's records (a course, an enrollment), not tracking, and telemetry has no person in it; erasure
suppressions apply to every stream."""


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
