"""What the gateway's OpenAPI document adds to its ingestion routes: request examples (the valid bodies
of ``schemas/examples/``, which the tests post and the transforms are tested over, so they cannot drift)
and what each body may be sent as."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from schemas.payloads import BATCH_ROUTE
from schemas.payloads import INGESTION_ROUTES as ROUTES
from schemas.topics import Stream

_SENT_AS = (
    "`Content-Type: application/json` (any charset), `text/plain` (what `navigator.sendBeacon` sends for a "
    "string) or none: the body is JSON in each case; other media types answer 415. "
    "`Content-Encoding: gzip` is accepted (the size cap applies to the inflated body too)."
)
INGESTION_BODY_DESCRIPTIONS = {
    **dict.fromkeys(ROUTES.values(), f"One item. {_SENT_AS}"),
    BATCH_ROUTE: f"Up to the batch limit of events; each is validated on its own. {_SENT_AS}",
}


def _valid_bodies(stream: Stream) -> dict[str, dict[str, Any]]:
    folder = resources.files("schemas").joinpath("examples", stream.value)
    bodies = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith("valid_") and entry.name.endswith(".json"):
            bodies[entry.name.removeprefix("valid_").removesuffix(".json")] = json.loads(entry.read_text())
    return bodies


@cache
def ingestion_examples() -> dict[str, dict[str, Any]]:
    """``{path: {name: {"summary", "value"}}}`` for every ingestion route."""
    examples: dict[str, dict[str, Any]] = {}
    for stream, path in ROUTES.items():
        examples[path] = {
            name: {"summary": name.replace("_", " "), "value": body}
            for name, body in _valid_bodies(stream).items()
        }
    events = list(_valid_bodies(Stream.EVENTS).values())
    examples[BATCH_ROUTE] = {
        "every_valid_event": {"summary": "a batch of events", "value": {"events": events}}
    }
    return examples
