"""LMS messages as the gateway stamps them, built from payload dicts in tests (independent of the gateway's
own stamping): the validated payload's message fields plus ``id``, ``tenant_id``, ``received_at``,
``timestamp`` (the payload's, else ``received_at``) and ``schema_version``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from schemas.event_time import format_time
from schemas.lms_messages import LMS_MESSAGES
from schemas.lms_payloads import LMS_PAYLOADS, message_fields
from schemas.topics import SCHEMA_VERSION, Stream

RECEIVED = "2027-01-05T12:00:00.000Z"
"""After every test time: when the test messages were received."""


def lms_stamped(
    stream: Stream, body: dict[str, Any], tenant: str = "acme", received_at: str = RECEIVED
) -> dict[str, Any]:
    """The Kafka message (JSON form) of one LMS payload ``body``; the payload's ``id`` is kept (and marks
    the message ``client_keyed``), else a new one is drawn."""
    payload = LMS_PAYLOADS[stream].model_validate(body)
    fields = message_fields(payload)
    received = datetime.fromisoformat(received_at)
    return {
        **fields,
        "id": fields.get("id") or str(uuid.uuid4()),
        "client_keyed": "id" in fields,
        "tenant_id": tenant,
        "received_at": format_time(received),
        "timestamp": format_time(payload.timestamp or received),
        "schema_version": SCHEMA_VERSION,
    }


def lms_model(stream: Stream, message: dict[str, Any]) -> Any:
    """The validated message model of a stamped message (as a worker decodes it)."""
    return LMS_MESSAGES[stream].model_validate(message)
