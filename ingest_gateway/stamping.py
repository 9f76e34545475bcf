"""Server stamping: event id, ``received_at``, event time corrected for clock skew, future times clamped.

Pure functions of (payload, tenant, receive time[, privacy policy]): no I/O, so they are tested exhaustively
without a broker. The privacy policy (:mod:`schemas.privacy`) is applied here, before the message exists
anywhere but in this process.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import uuid_utils

from schemas.messages import format_time
from schemas.payloads import UsageMetricCreate
from schemas.privacy import PrivacyPolicy
from schemas.topics import SCHEMA_VERSION

MAX_FUTURE = timedelta(days=1)
"""Event times later than ``received_at`` plus this are clamped to ``received_at`` and flagged."""


def event_time(
    received_at: datetime, timestamp: datetime | None, sent_at: datetime | None
) -> tuple[datetime, bool]:
    """The event time and whether it was clamped.

    A client ``timestamp`` is kept (backdated events are legitimate: offline clients, imports), shifted by
    the client's clock skew ``received_at - sent_at`` when ``sent_at`` is given. Without a ``timestamp``
    the event happened when it was received.
    """
    if timestamp is None:
        return received_at, False
    corrected = timestamp + (received_at - sent_at) if sent_at is not None else timestamp
    if corrected - received_at > MAX_FUTURE:
        return received_at, True
    return corrected, False


def new_event_id() -> str:
    """A time-ordered (UUIDv7) id, which keeps inserts and sorting keys local; as text, straight from
    ``uuid_utils``' native type (its stdlib-``UUID`` compat layer costs ~1 µs more per event)."""
    return str(uuid_utils.uuid7())


def stamp(
    payload: Any,
    tenant_id: str,
    received_at: datetime,
    event_id: UUID | None = None,
    received_at_text: str | None = None,
    *,
    privacy: PrivacyPolicy | None = None,
) -> dict[str, Any]:
    """The Kafka message of one validated payload: its fields plus the server's.

    ``received_at_text`` is ``format_time(received_at)``, passed in when stamping a whole batch at once.
    ``privacy``: the tenant's policy for the day of ``received_at``: IP handling, the user agent parsed into
    ``browser``/``browser_version``/``os``/``os_version``/``device`` and perhaps dropped. ``None`` leaves
    the payload's fields as they are.
    """
    message: dict[str, Any] = payload.model_dump(mode="json")
    fixed = payload.id or event_id
    message["id"] = str(fixed) if fixed is not None else new_event_id()
    message["tenant_id"] = tenant_id
    message["received_at"] = received_at_text or format_time(received_at)
    message["schema_version"] = SCHEMA_VERSION
    if isinstance(payload, UsageMetricCreate):
        clamped = payload.date > (received_at + MAX_FUTURE).date()
        if clamped:
            message["date"] = received_at.date().isoformat()
    else:
        when, clamped = event_time(received_at, payload.timestamp, payload.sent_at)
        message["timestamp"] = message["received_at"] if when is received_at else format_time(when)
    message["time_clamped"] = clamped
    if privacy is not None:
        privacy.apply(message)
    return message
