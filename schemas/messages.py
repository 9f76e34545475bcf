"""Kafka messages: what the gateway produces and the stream processors consume.

A message is the request payload with the server's fields filled in, as one JSON object (orjson), keyed by
``tenant_id:user_id``, with a ``schema_version`` header. The ``*Message`` models decode and validate a
message on the consumer side; :func:`encode` is the producer side.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.payloads import (
    ActivityLogCreate,
    AnalyticsEventCreate,
    PerformanceMetricCreate,
    UsageMetricCreate,
)
from schemas.topics import SCHEMA_VERSION, Stream

SCHEMA_VERSION_HEADER = "schema_version"


class _ServerFields(BaseModel):
    """Fields the gateway stamps on every message."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str = Field(min_length=1, max_length=64)
    id: UUID
    received_at: AwareDatetime
    time_clamped: bool = False
    schema_version: int = SCHEMA_VERSION


class _TimedServerFields(_ServerFields):
    timestamp: AwareDatetime  # the event time: client time corrected for skew, or received_at


class AnalyticsEventMessage(_TimedServerFields, AnalyticsEventCreate):
    id: UUID
    timestamp: AwareDatetime


class PerformanceMetricMessage(_TimedServerFields, PerformanceMetricCreate):
    id: UUID
    timestamp: AwareDatetime


class ActivityLogMessage(_TimedServerFields, ActivityLogCreate):
    id: UUID
    timestamp: AwareDatetime


class UsageMetricMessage(_ServerFields, UsageMetricCreate):
    id: UUID
    date: date


MESSAGE_MODELS: dict[Stream, type[_ServerFields]] = {
    Stream.EVENTS: AnalyticsEventMessage,
    Stream.PERFORMANCE: PerformanceMetricMessage,
    Stream.USAGE: UsageMetricMessage,
    Stream.ACTIVITIES: ActivityLogMessage,
}


def format_time(value: datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix: the one time format on the wire."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode(message: dict[str, Any]) -> bytes:
    """Serialize a message dict (already JSON-compatible) for Kafka."""
    return orjson.dumps(message)


def decode(stream: Stream, value: bytes) -> _ServerFields:
    """Parse and validate one message of ``stream``; raises ``pydantic.ValidationError`` if invalid."""
    return MESSAGE_MODELS[stream].model_validate_json(value)
