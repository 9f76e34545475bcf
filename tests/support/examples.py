"""Access to the example payloads in ``schemas/examples/<stream>/``."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from schemas.topics import Stream

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"


def examples(stream: Stream, kind: str) -> list[tuple[str, Any]]:
    """(file name, body) of every ``<kind>_*.json`` example of ``stream``; ``kind``: valid or invalid."""
    folder = EXAMPLES / stream.value
    return [(path.name, json.loads(path.read_text())) for path in sorted(folder.glob(f"{kind}_*.json"))]


def expected_errors(stream: Stream) -> dict[str, list[str]]:
    data: dict[str, list[str]] = json.loads((EXAMPLES / stream.value / "expected_errors.json").read_text())
    return data


def all_examples(kind: str) -> list[tuple[Stream, str, Any]]:
    return [(stream, name, body) for stream in Stream for name, body in examples(stream, kind)]


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
