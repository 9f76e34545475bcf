"""Access to the example payloads in ``schemas/examples/<stream>/``.

The product's streams and the learning platform's (ADR 0015) have their folders side by side. Whole-set
helpers (:func:`all_examples`) default to the product's streams, which tests written for the product's
models and routes iterate; pass ``streams`` (:data:`schemas.topics.LMS_STREAMS`, or every ``Stream``) for
the others. An LMS example's ``expected_errors.json`` names each refused field as the gateway reports it:
the path in the body (``videos.0.video_id``), ``type`` for a missing or unknown event type, and ``(body)``
for a check across fields (score above max_score, end before start)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from schemas.lms_payloads import LMS_ROUTES
from schemas.payloads import INGESTION_ROUTES
from schemas.topics import PRODUCT_STREAMS, Stream

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"
ROUTES: dict[Stream, str] = {**INGESTION_ROUTES, **LMS_ROUTES}
"""The single-item route of every stream (an LMS stream's batch route is ``<route>/batch``)."""


def examples(stream: Stream, kind: str) -> list[tuple[str, Any]]:
    """(file name, body) of every ``<kind>_*.json`` example of ``stream``; ``kind``: valid or invalid."""
    folder = EXAMPLES / stream.value
    return [(path.name, json.loads(path.read_text())) for path in sorted(folder.glob(f"{kind}_*.json"))]


def expected_errors(stream: Stream) -> dict[str, list[str]]:
    data: dict[str, list[str]] = json.loads((EXAMPLES / stream.value / "expected_errors.json").read_text())
    return data


def all_examples(kind: str, streams: Iterable[Stream] = PRODUCT_STREAMS) -> list[tuple[Stream, str, Any]]:
    """(stream, file name, body) of every ``<kind>_*.json`` example of ``streams`` (default: the
    product's)."""
    return [(stream, name, body) for stream in streams for name, body in examples(stream, kind)]


def example(stream: Stream, name: str) -> Any:
    """One example body by file name."""
    return json.loads((EXAMPLES / stream.value / name).read_text())


def stamped_page_view(
    user: str,
    session: str,
    timestamp: str,
    received_at: str = "2027-01-05T10:00:00.000Z",
    tenant: str = "default",
) -> dict[str, Any]:
    """A page view as the gateway would have stamped it (the Kafka message of one event)."""
    return {
        "tenant_id": tenant,
        "id": str(uuid.uuid4()),
        "user_id": user,
        "received_at": received_at,
        "schema_version": 1,
        "session_id": session,
        "event_type": "user_action",
        "event_name": "page_view",
        "event_category": "navigation",
        "properties": {"page": "/home"},
        "source": "web_app",
        "platform": "web",
        "timestamp": timestamp,
    }


# ---- the learning platform's examples as their messages carry them (an oracle, written apart from the
# gateway's schemas.lms_payloads.message_fields) ------------------------------------------------------

_SUBJECT_OF_ENTITY = {
    "institute": lambda body: f"institute:{body['institute_id']}",
    "course": lambda body: f"course:{body['course_id']}",
    "user": lambda body: f"{body['user_type']}:{body['user_id']}",
    "enrollment": lambda body: f"student:{body['student_id']}",
}


def lms_subject(stream: Stream, body: dict[str, Any]) -> str:
    """The subject key an LMS body's message carries in ``user_id`` (and its partitioning key is made of):
    the person of an activity or a user upsert, the student of an enrollment, the course or institute of
    those upserts, the source of a telemetry sample."""
    if stream is Stream.LMS_ENTITIES:
        return _SUBJECT_OF_ENTITY[body["type"]](body)
    if stream is Stream.LMS_TELEMETRY:
        return f"source:{body['source']}"
    return f"{body['user_type']}:{body['user_id']}"


def lms_message_fields(stream: Stream, body: dict[str, Any]) -> dict[str, Any]:
    """The body's own fields as its message holds them: ``user_id`` the subject key, a person's integer id
    in ``lms_user_id`` (values as sent; compare them with :func:`same_value`)."""
    fields = dict(body)
    if "user_id" in fields:
        fields["lms_user_id"] = fields["user_id"]
    fields["user_id"] = lms_subject(stream, body)
    return fields


def same_value(posted: Any, stored: Any) -> bool:
    """Equality across JSON re-encoding: times compared as instants, numbers (and decimal text) as
    decimals, booleans only as booleans."""
    if isinstance(posted, bool) or isinstance(stored, bool):
        return posted is stored
    if isinstance(posted, dict) and isinstance(stored, dict):
        return posted.keys() == stored.keys() and all(same_value(posted[k], stored[k]) for k in posted)
    if isinstance(posted, list) and isinstance(stored, list):
        return len(posted) == len(stored) and all(
            same_value(a, b) for a, b in zip(posted, stored, strict=True)
        )
    if posted == stored:
        return True
    if isinstance(posted, str) and isinstance(stored, str):
        try:
            return datetime.fromisoformat(posted) == datetime.fromisoformat(stored)
        except ValueError:
            pass
    if isinstance(posted, float | int | str) and isinstance(stored, float | int | str):
        return (number := _decimal(posted)) is not None and number == _decimal(stored)
    return False


def _decimal(value: float | int | str) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


LMS_EVENT_TYPES: dict[Stream, frozenset[str]] = {
    Stream.LMS_ENTITIES: frozenset({"institute", "course", "user", "enrollment"}),
    Stream.LMS_ACTIVITY: frozenset(
        {
            "login",
            "logout",
            "content_viewed",
            "progress_updated",
            "course_completed",
            "video_watched",
            "assessment_started",
            "assessment_submitted",
            "assessment_graded",
            "other",
        }
    ),
    Stream.LMS_TELEMETRY: frozenset({"traffic", "storage", "uptime"}),
}
"""Every event type of each LMS stream, as docs/lms-events.md lists them (written here, not read from the
contract, so a type added or lost there fails the tests that compare)."""
