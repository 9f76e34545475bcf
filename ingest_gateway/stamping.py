"""Server stamping: event id, ``received_at``, event time corrected for clock skew, future times clamped.

Pure functions of (payload, tenant, receive time[, retention, privacy policy]): no I/O, so they are tested
exhaustively without a broker. The privacy policy (:mod:`privacy.policy`) is applied here, before the
message exists anywhere but in this process.

The event-time policy (:mod:`schemas.event_time`): the payload's own times were range-checked by its
model; :func:`place` checks what needs the time of receipt — the skew-corrected time must stay in the
supported range, and the event must not be older than the tenant's raw retention — and raises
:class:`TimeRefused` otherwise. More than :data:`MAX_FUTURE` ahead is clamped to ``received_at`` and flagged
(``time_clamped``), not refused: a client clock set in the future should not lose the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, get_args
from uuid import UUID

import uuid_utils

from privacy.policy import PrivacyPolicy
from schemas.event_time import (
    BEYOND_RETENTION,
    OUT_OF_RANGE,
    RawRetention,
    format_time,
    out_of_range_reason,
    time_in_range,
)
from schemas.lms_payloads import ENTITY_UPSERTS, Activity, EntityUpsert, Telemetry
from schemas.lms_payloads import message_fields as lms_message_fields
from schemas.payloads import UsageMetricCreate
from schemas.topics import SCHEMA_VERSION

MAX_FUTURE = timedelta(days=1)
"""Event times later than ``received_at`` plus this are clamped to ``received_at`` and flagged."""


class TimeRefused(ValueError):
    """An event the time policy refuses: ``kind`` is the error type (``timestamp_out_of_range`` or
    ``beyond_retention``), ``field`` the payload field it is about, ``reason`` the message."""

    def __init__(self, kind: str, field: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Placement:
    """When a payload happened as stored: its event time (or a usage summary's date) and whether it was
    clamped from the future."""

    when: datetime | date
    clamped: bool
    field: str
    """The payload field that carries it: ``timestamp`` or ``date``."""


def event_time(
    received_at: datetime, timestamp: datetime | None, sent_at: datetime | None
) -> tuple[datetime, bool]:
    """The event time and whether it was clamped.

    A client ``timestamp`` is kept (backdated events are legitimate: offline clients, imports), shifted by
    the client's clock skew ``received_at - sent_at`` when ``sent_at`` is given. Without a ``timestamp``
    the event happened when it was received. Raises :class:`TimeRefused` when the corrected time leaves the
    supported range (the inputs are in range, so the arithmetic cannot overflow; it is guarded anyway).
    """
    if timestamp is None:
        return received_at, False
    corrected = timestamp
    if sent_at is not None:
        try:
            corrected = timestamp + (received_at - sent_at)
        except OverflowError:
            raise TimeRefused(
                OUT_OF_RANGE,
                "timestamp",
                "corrected for clock skew (received_at - sent_at), the time overflows",
            ) from None
    if not time_in_range(corrected):
        what = "corrected for clock skew (received_at - sent_at), the time" if sent_at is not None else "time"
        raise TimeRefused(OUT_OF_RANGE, "timestamp", out_of_range_reason(what, corrected))
    if corrected - received_at > MAX_FUTURE:
        return received_at, True
    return corrected, False


def place(payload: Any, received_at: datetime, retention: RawRetention | None = None) -> Placement:
    """The stored time of a validated ``payload`` received at ``received_at``; raises :class:`TimeRefused`.

    ``retention``: the tenant's raw retention; an event older than it is refused (``beyond_retention``)
    with the same cutoff the retention job deletes by. ``None`` skips that check."""
    if isinstance(payload, UsageMetricCreate):
        day: date = payload.date
        if day > (received_at + MAX_FUTURE).date():
            return Placement(received_at.date(), True, "date")
        if retention is not None and day < (oldest := retention.oldest_day(received_at)):
            raise TimeRefused(BEYOND_RETENTION, "date", retention.reason(oldest))
        return Placement(day, False, "date")
    when, clamped = event_time(received_at, payload.timestamp, payload.sent_at)
    if isinstance(payload, ENTITY_UPSERTS):  # state, not an event: an old version is still the newest state
        return Placement(when, clamped, "timestamp")
    if retention is not None and when < (oldest_time := retention.oldest_time(received_at)):
        raise TimeRefused(BEYOND_RETENTION, "timestamp", retention.reason(oldest_time))
    return Placement(when, clamped, "timestamp")


_LMS_TYPES = frozenset(
    kind for union in (EntityUpsert, Activity, Telemetry) for kind in get_args(get_args(union)[0])
)
"""Every event type of the learning platform's streams (the members of each stream's ``type`` union)."""


def message_fields(payload: Any) -> dict[str, Any]:
    """The fields a validated payload gives its message before the stamps. A learning-platform payload
    gives :func:`schemas.lms_payloads.message_fields`: its subject key (``student:17``) in ``user_id``,
    which the partitioning key and every per-user step are made of, a person's integer id in
    ``lms_user_id``, unset optional fields left out. Any other payload gives its whole JSON form."""
    if type(payload) in _LMS_TYPES:
        return lms_message_fields(payload)
    fields: dict[str, Any] = payload.model_dump(mode="json")
    return fields


def new_event_id() -> str:
    """A time-ordered (UUIDv7) id, which keeps inserts and sorting keys local; as text, straight from
    ``uuid_utils``' native type (its stdlib-``UUID`` compat layer costs more, on every event)."""
    return str(uuid_utils.uuid7())


def stamp(
    payload: Any,
    tenant_id: str,
    received_at: datetime,
    event_id: UUID | None = None,
    received_at_text: str | None = None,
    *,
    privacy: PrivacyPolicy | None = None,
    placement: Placement | None = None,
) -> dict[str, Any]:
    """The Kafka message of one validated payload (any stream's): its fields (:func:`message_fields`) plus
    the server's.

    ``event_id``: the id derived from the request's ``Idempotency-Key``; the payload's own ``id`` wins.
    Either makes ``client_keyed`` true (a retry carries the same id); else a new UUIDv7.
    ``received_at_text`` is ``format_time(received_at)``, passed in when stamping a whole batch at once.
    ``placement``: :func:`place`'s answer when the caller already checked the time policy (else computed
    here without a retention check; raises :class:`TimeRefused`).
    ``privacy``: the tenant's policy for the day of ``received_at``: IP handling, the user agent parsed into
    ``browser``/``browser_version``/``os``/``os_version``/``device`` and perhaps dropped. ``None`` leaves
    the payload's fields as they are.
    """
    placed = placement or place(payload, received_at)
    message = message_fields(payload)
    fixed = payload.id or event_id
    message["id"] = str(fixed) if fixed is not None else new_event_id()
    message["tenant_id"] = tenant_id
    message["received_at"] = received_at_text or format_time(received_at)
    message["schema_version"] = SCHEMA_VERSION
    if isinstance(placed.when, datetime):
        message["timestamp"] = (
            message["received_at"] if placed.when is received_at else format_time(placed.when)
        )
    elif placed.clamped:
        message["date"] = placed.when.isoformat()
    message["time_clamped"] = placed.clamped
    message["client_keyed"] = fixed is not None
    if privacy is not None:
        privacy.apply(message)
    return message
