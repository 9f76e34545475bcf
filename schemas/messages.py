"""Kafka messages: what the gateway produces and the stream processors consume.

An *event* is the request payload with the server's fields filled in. A Kafka *message* carries a
micro-batch of events that share a partition: ``{"schema_version": 1, "events": [event, ...]}`` (orjson),
with a ``schema_version`` header (ADR 0003). Each event belongs to the partition of its key
``tenant_id:user_id`` (Kafka's default partitioner), so one user's events stay ordered in one partition.
The message key is that key when every event of the message has it, else ``tenant_id:*``.

The ``*Message`` models validate one event on the consumer side; :func:`encode_batch` is the producer
side and :func:`decode_batch` the consumer side.

Privacy handling at the gateway (:mod:`privacy.policy`) may change an event's ``ip_address`` (truncated,
a keyed hash ``h:<32 hex>``, or none) and ``user_agent`` (none), and adds the browser, OS and device parsed
from the user agent. Those fields are optional (additive, so ``schema_version`` stays 1: messages written
before them still decode) and flat, like the raw table's columns.

Every stored time (``timestamp``, ``received_at``, ``sent_at``, a usage ``date``) must be within the
supported range of :mod:`schemas.event_time`, the same check the gateway applies: an event injected
straight into a topic outside it fails validation (``pydantic.ValidationError``) and is dead-lettered,
never inserted, because its buckets cannot be stored.

``client_keyed`` (additive, default ``false``) says the event id came from the client (the payload's
``id`` or an ``Idempotency-Key``), so a retry carries the same id.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

import orjson
from pydantic import BaseModel

from schemas.event_time import StoredDate, StoredTime
from schemas.event_time import format_time as format_time  # the wire's time format, long imported from here
from schemas.lms_messages import LMS_BATCHES, LMS_MESSAGES
from schemas.message_fields import (  # re-exported: long imported from here
    HASHED_IP_HEX_DIGITS as HASHED_IP_HEX_DIGITS,
)
from schemas.message_fields import (
    HASHED_IP_PREFIX as HASHED_IP_PREFIX,
)
from schemas.message_fields import (
    SCHEMA_VERSION_HEADER as SCHEMA_VERSION_HEADER,
)
from schemas.message_fields import (
    ClientField as ClientField,
)
from schemas.message_fields import (
    HashedIPAddress as HashedIPAddress,
)
from schemas.message_fields import (
    SentAt as SentAt,
)
from schemas.message_fields import (
    _ServerFields as _ServerFields,
)
from schemas.payloads import (
    ActivityLogCreate,
    AnalyticsEventCreate,
    IPAddress,
    PerformanceMetricCreate,
    UsageMetricCreate,
)
from schemas.topics import SCHEMA_VERSION, Stream


class _TimedServerFields(_ServerFields):
    timestamp: StoredTime  # the event time: client time corrected for skew, or received_at


class AnalyticsEventMessage(_TimedServerFields, AnalyticsEventCreate):
    id: UUID
    timestamp: StoredTime
    sent_at: SentAt = None
    ip_address: HashedIPAddress | IPAddress | None = None
    browser: ClientField | None = None
    """Parsed from the user agent by the gateway (``privacy.policy.ClientInfo``); absent: not parsed."""
    browser_version: ClientField | None = None
    os: ClientField | None = None
    os_version: ClientField | None = None
    device: ClientField | None = None


class PerformanceMetricMessage(_TimedServerFields, PerformanceMetricCreate):
    id: UUID
    timestamp: StoredTime
    sent_at: SentAt = None


class ActivityLogMessage(_TimedServerFields, ActivityLogCreate):
    id: UUID
    timestamp: StoredTime
    sent_at: SentAt = None


class UsageMetricMessage(_ServerFields, UsageMetricCreate):
    id: UUID
    date: StoredDate


MESSAGE_MODELS: dict[Stream, Any] = {
    Stream.EVENTS: AnalyticsEventMessage,
    Stream.PERFORMANCE: PerformanceMetricMessage,
    Stream.USAGE: UsageMetricMessage,
    Stream.ACTIVITIES: ActivityLogMessage,
    **LMS_MESSAGES,
}
"""Each stream's validator of one event (``model_validate``): a model, or a union of them (LMS streams)."""


class EnvelopeError(ValueError):
    """A Kafka message that is not a batch of events of a version we read."""


def encode_batch(events: list[dict[str, Any]]) -> bytes:
    """Serialize stamped events (JSON-compatible dicts) as one Kafka message value."""
    return orjson.dumps({"schema_version": SCHEMA_VERSION, "events": events})


def unpack_batch(value: bytes) -> list[Any]:
    """The raw events of one message value; raises :class:`EnvelopeError` for anything else."""
    try:
        envelope = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError(f"not JSON: {exc}") from exc
    if not isinstance(envelope, dict) or not isinstance(envelope.get("events"), list):
        raise EnvelopeError("not an event batch: expected an object with an 'events' array")
    if envelope.get("schema_version") != SCHEMA_VERSION:
        raise EnvelopeError(f"unsupported schema_version {envelope.get('schema_version')!r}")
    events: list[Any] = envelope["events"]
    return events


class _EventsBatch(BaseModel):
    schema_version: Literal[1]
    events: list[AnalyticsEventMessage]


class _PerformanceBatch(BaseModel):
    schema_version: Literal[1]
    events: list[PerformanceMetricMessage]


class _UsageBatch(BaseModel):
    schema_version: Literal[1]
    events: list[UsageMetricMessage]


class _ActivitiesBatch(BaseModel):
    schema_version: Literal[1]
    events: list[ActivityLogMessage]


_BATCHES: dict[Stream, type[BaseModel]] = {
    Stream.EVENTS: _EventsBatch,
    Stream.PERFORMANCE: _PerformanceBatch,
    Stream.USAGE: _UsageBatch,
    Stream.ACTIVITIES: _ActivitiesBatch,
    **LMS_BATCHES,
}


def decode_batch(stream: Stream, value: bytes) -> list[Any]:
    """Parse and validate a whole message in one pass (pydantic-core parses the JSON itself).

    Raises ``pydantic.ValidationError`` if anything in it is invalid; callers then fall back to
    :func:`unpack_batch` and :func:`decode_event` to tell the good events from the bad ones.
    """
    events: list[Any] = _BATCHES[stream].model_validate_json(value).events  # type: ignore[attr-defined]
    return events


def decode_event(stream: Stream, event: Any) -> Any:
    """Validate one event of ``stream`` (a ``*Message`` model); raises ``pydantic.ValidationError`` if
    invalid."""
    return MESSAGE_MODELS[stream].model_validate(event)
