"""The intake pipeline of one request: validate → place in time → stamp → publish → answer.

Items are validated one by one, so a batch accepts its valid items and reports each invalid one with its
index, field, reason and type. Nothing is reported as accepted before the sink acknowledged it.

The event-time policy (:mod:`schemas.event_time`, :func:`ingest_gateway.stamping.place`) refuses an event
whose time is outside the supported range (``timestamp_out_of_range``) or older than its tenant's raw
retention (``beyond_retention``), per item like any other validation error; a single-item request refused
for only one of those reasons answers 422 with the matching error code (``TIMESTAMP_OUT_OF_RANGE``,
``BEYOND_RETENTION``), else ``VALIDATION_ERROR``. An event clamped from the future is accepted and reported
in ``warnings`` (``timestamp_clamped``), shaped like an error detail.

Every stream goes through here, the product's and the learning platform's (ADR 0015). An LMS item is one
member of its stream's union on ``type``; its errors name the field as it is in the body (``session_id``,
not pydantic's ``video_watched.session_id``), and a missing or unknown ``type`` is an error of ``type``.
LMS messages carry their subject key in ``user_id``, so they are never stamped with an end user's id: the
LMS routes take only credentials that speak for the whole tenant (:mod:`ingest_gateway.api.deps`).

Every message of a request carries the request's id as its ``request_id`` header (:func:`message_headers`),
read from the logging context the middleware binds for the request (:func:`plumbing.logs.request_context`),
so the workers' log lines of the batch that carries it name the request.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from ingest_gateway.errors import ApiError, too_large, unavailable, validation_error
from ingest_gateway.metrics import GatewayMetrics
from ingest_gateway.partitioner import partition_of
from ingest_gateway.settings import GatewaySettings
from ingest_gateway.stamping import Placement, TimeRefused, place, stamp
from plumbing.logs import current_request_id
from privacy.directory import TenantPrivacyDirectory, longest_retention
from schemas.envelope import ErrorCode
from schemas.event_time import BEYOND_RETENTION, CLAMPED, OUT_OF_RANGE, RawRetention
from schemas.lms_payloads import LMS_PAYLOADS
from schemas.messages import SCHEMA_VERSION_HEADER, encode_batch, format_time
from schemas.payloads import PAYLOAD_MODELS
from schemas.topics import SCHEMA_VERSION, Stream, message_key, registry
from schemas.transport import HEADER_REQUEST_ID, EventSink, Record, SinkUnavailable

IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c3c1e-2b1a-4f38-9a55-2c1a1e0c7d11")
_SCHEMA_VERSION = (SCHEMA_VERSION_HEADER, str(SCHEMA_VERSION).encode())


_TIME_CODES = {OUT_OF_RANGE: ErrorCode.TIMESTAMP_OUT_OF_RANGE, BEYOND_RETENTION: ErrorCode.BEYOND_RETENTION}
VALIDATORS: dict[Stream, Any] = {**PAYLOAD_MODELS, **LMS_PAYLOADS}
"""Each stream's validator of one item (``model_validate``): a model, or a union on ``type`` (LMS)."""
_TAG_ERRORS = frozenset({"union_tag_not_found", "union_tag_invalid"})


@dataclass(frozen=True, slots=True)
class IntakeResult:
    accepted_ids: list[str]
    rejected: list[dict[str, Any]]
    warnings: list[dict[str, Any]] = field(default_factory=list)
    """``{index, field, reason, type}`` of accepted events stored differently than sent (clamped times)."""


@dataclass(frozen=True, slots=True)
class SingleResult:
    event_id: str
    warnings: list[dict[str, Any]] = field(default_factory=list)
    """``{field, reason, type}`` if the event is stored differently than sent (a clamped time)."""


@dataclass(frozen=True, slots=True)
class _Valid:
    payload: BaseModel
    placement: Placement


def error_details(error: ValidationError, index: int | None = None, tag: Any = None) -> list[dict[str, Any]]:
    """Every failing field of ``error`` as ``{index?, field, reason, type}``. ``tag``: the item's ``type``
    when it was validated as a union on ``type``; pydantic puts the tag first in each location, which is
    dropped so the field reads as in the body, and an error of the tag itself is the field ``type``'s."""
    details = []
    for item in error.errors(include_url=False, include_input=False):
        entry: dict[str, Any] = {}
        if index is not None:
            entry["index"] = index
        loc = item["loc"]
        if tag is not None and loc and loc[0] == tag:
            loc = loc[1:]
        elif tag is not None and item["type"] in _TAG_ERRORS:
            loc = ("type",)
        entry["field"] = ".".join(str(part) for part in loc) or "(body)"
        entry["reason"] = item["msg"]
        entry["type"] = item["type"]
        details.append(entry)
    return details


def refusal(message: str, details: list[dict[str, Any]]) -> ApiError:
    """422 for refused items: the time policy's own code when every detail is that one kind of refusal."""
    kinds = {entry["type"] for entry in details}
    code = _TIME_CODES.get(kinds.pop()) if len(kinds) == 1 else None
    return ApiError(422, code or ErrorCode.VALIDATION_ERROR, message, details)


def _time_detail(kind: str, where: str, reason: str, index: int | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"index": index} if index is not None else {}
    entry.update({"field": where, "reason": reason, "type": kind})
    return entry


def clamp_warning(placement: Placement, received_at: datetime, index: int | None) -> dict[str, Any]:
    """The warning telling the client its event time was moved back to the time it was received."""
    if placement.field == "date":
        reason = (
            f"more than a day in the future; stored as {received_at.date().isoformat()}, the day received"
        )
    else:
        reason = f"more than a day in the future; stored as {format_time(received_at)}, the time received"
    return _time_detail(CLAMPED, placement.field, reason, index)


def idempotent_id(tenant_id: str, key: str, index: int, user_id: str | None = None) -> uuid.UUID:
    """The id of item ``index`` of a request carrying ``Idempotency-Key: key``: the same on every retry.
    Keys of end users (``user_id``) are their own: two users choosing the same key get different ids."""
    scope = tenant_id if user_id is None else f"{tenant_id}\x1e{user_id}"
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{scope}\x1f{key}\x1f{index}")


def message_headers(request_id: str | None) -> list[tuple[str, bytes]]:
    """The headers of every message of a request: the schema version, and the request's id
    (``X-Request-ID``, :data:`~schemas.transport.HEADER_REQUEST_ID`) so the workers' log lines of the batch
    carrying it name the request."""
    if not request_id:
        return [_SCHEMA_VERSION]
    return [_SCHEMA_VERSION, (HEADER_REQUEST_ID, request_id.encode())]


def _check_user(stream: Stream, user_id: str | None) -> None:
    """An LMS message's ``user_id`` is its subject key, which an end user's id must not replace: a caller
    posting an LMS stream for an end user is a bug (the routes refuse such credentials with 403)."""
    if user_id is not None and stream in LMS_PAYLOADS:
        raise ValueError(f"{stream.value} events are not stamped with an end user's id")


class Intake:
    def __init__(
        self,
        settings: GatewaySettings,
        sink: EventSink,
        metrics: GatewayMetrics,
        privacy: TenantPrivacyDirectory | None = None,
    ) -> None:
        """``privacy``: each tenant's IP and user-agent handling, applied before events leave the gateway
        (``None``: addresses and user agents are kept as sent, the default of a tenant's settings)."""
        self._settings = settings
        self._privacy = privacy
        self._sink = sink
        self._metrics = metrics
        self._topics = {stream: spec.name for stream, spec in registry(settings.topic_prefix).items()}
        self._zones = settings.zone_lookup()

    def _retention(self, tenant_id: str) -> RawRetention:
        if self._privacy is not None:
            return self._privacy.retention_for(tenant_id)
        return longest_retention(self._zones(tenant_id))

    def _validate(
        self,
        stream: Stream,
        item: Any,
        index: int | None,
        received_at: datetime,
        retention: RawRetention,
    ) -> _Valid | list[dict[str, Any]]:
        if not isinstance(item, dict):
            where = "(body)" if index is None else f"events.{index}"
            detail: dict[str, Any] = {"field": where, "reason": "must be a JSON object", "type": "model_type"}
            if index is not None:
                detail["index"] = index
            return [detail]
        try:
            payload = VALIDATORS[stream].model_validate(item)
        except ValidationError as exc:
            return error_details(exc, index, item.get("type", "") if stream in LMS_PAYLOADS else None)
        try:
            return _Valid(payload, place(payload, received_at, retention))
        except TimeRefused as refused:
            return [_time_detail(refused.kind, refused.field, refused.reason, index)]

    async def accept_single(
        self,
        stream: Stream,
        body: Any,
        tenant_id: str,
        idempotency_key: str | None,
        user_id: str | None = None,
    ) -> SingleResult:
        """Validate and publish one item; its event id and warnings. Raises ``ApiError`` (422, 503).

        ``tenant_id`` (and ``user_id`` for end users) come from the credential and replace the body's."""
        _check_user(stream, user_id)
        received_at = datetime.now(UTC)
        outcome = self._validate(stream, body, None, received_at, self._retention(tenant_id))
        if isinstance(outcome, list):
            self._metrics.events_rejected.labels(stream.value, outcome[0]["type"]).inc()
            raise refusal("the event is invalid", outcome)
        ids = await self._publish(stream, [outcome], [0], tenant_id, idempotency_key, user_id, received_at)
        warnings = [clamp_warning(outcome.placement, received_at, None)] if outcome.placement.clamped else []
        return SingleResult(ids[0], warnings)

    async def accept_batch(
        self,
        stream: Stream,
        body: Any,
        tenant_id: str,
        idempotency_key: str | None,
        user_id: str | None = None,
    ) -> IntakeResult:
        """Validate items one by one, publish the valid ones; report the others. Raises ``ApiError``."""
        _check_user(stream, user_id)
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise validation_error(
                "body must be an object with an 'events' array",
                details=[{"field": "events", "reason": "required JSON array", "type": "missing"}],
            )
        unknown = sorted(set(body) - {"events"})
        if unknown:
            raise validation_error(
                "unknown top-level fields",
                details=[{"field": f, "reason": "not permitted", "type": "extra_forbidden"} for f in unknown],
            )
        items: list[Any] = body["events"]
        limit = self._settings.gateway_max_batch_events
        if len(items) > limit:
            raise too_large(f"batch holds {len(items)} events; at most {limit} are accepted per request")
        if not items:
            raise validation_error(
                "'events' is empty",
                details=[{"field": "events", "reason": "at least 1 item", "type": "too_short"}],
            )
        received_at = datetime.now(UTC)
        retention = self._retention(tenant_id)
        valid: list[_Valid] = []
        positions: list[int] = []
        rejected: list[dict[str, Any]] = []
        warnings: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            outcome = self._validate(stream, item, index, received_at, retention)
            if isinstance(outcome, list):
                rejected.extend(outcome)
                self._metrics.events_rejected.labels(stream.value, outcome[0]["type"]).inc()
            else:
                valid.append(outcome)
                positions.append(index)
                if outcome.placement.clamped:
                    warnings.append(clamp_warning(outcome.placement, received_at, index))
        if not valid:
            raise refusal("every event of the batch is invalid", rejected)
        ids = await self._publish(stream, valid, positions, tenant_id, idempotency_key, user_id, received_at)
        return IntakeResult(ids, rejected, warnings)

    async def _publish(
        self,
        stream: Stream,
        payloads: Sequence[_Valid],
        positions: Sequence[int],
        tenant_id: str,
        idempotency_key: str | None,
        user_id: str | None,
        received_at: datetime,
    ) -> list[str]:
        received_at_text = format_time(received_at)
        topic = self._topics[stream]
        policy = self._privacy.policy_for(tenant_id, received_at.date()) if self._privacy else None
        ids: list[str] = []
        started = time.perf_counter()
        try:
            partitions = await self._sink.partitions(topic)
            groups: dict[int, tuple[list[bytes], list[dict[str, Any]]]] = {}
            for valid, position in zip(payloads, positions, strict=True):
                fixed_id = (
                    idempotent_id(tenant_id, idempotency_key, position, user_id) if idempotency_key else None
                )
                message = stamp(
                    valid.payload,
                    tenant_id,
                    received_at,
                    fixed_id,
                    received_at_text,
                    privacy=policy,
                    placement=valid.placement,
                )
                if user_id is not None:
                    message["user_id"] = user_id
                ids.append(message["id"])
                key = message_key(tenant_id, message["user_id"])
                keys, events = groups.setdefault(partition_of(key, partitions), ([], []))
                keys.append(key)
                events.append(message)
            records: list[Record] = [
                (
                    partition,
                    keys[0] if keys.count(keys[0]) == len(keys) else f"{tenant_id}:*".encode(),
                    encode_batch(events),
                )
                for partition, (keys, events) in groups.items()
            ]
            await self._sink.publish(topic, records, message_headers(current_request_id()))
        except SinkUnavailable as exc:
            self._metrics.events_rejected.labels(stream.value, "unavailable").inc(len(payloads))
            raise unavailable(f"events not accepted: {exc}", self._settings.gateway_retry_after_s) from exc
        self._metrics.produce_latency.labels(stream.value).observe(time.perf_counter() - started)
        self._metrics.events_accepted.labels(stream.value).inc(len(payloads))
        return ids
