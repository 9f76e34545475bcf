"""What the gateway's OpenAPI document adds to its ingestion routes: request examples (the valid bodies
of ``schemas/examples/``, which the tests post and the transforms are tested over, so they cannot drift)
and what each body may be sent as.

The learning platform's routes get every valid example of their stream, so every event type is shown
(the example files cover each one); their batch routes get one batch of them all."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from schemas.lms_payloads import LMS_ROUTES
from schemas.payloads import BATCH_ROUTE
from schemas.payloads import INGESTION_ROUTES as ROUTES
from schemas.topics import Stream

_SENT_AS = (
    "`Content-Type: application/json` (any charset), `text/plain` (what `navigator.sendBeacon` sends for a "
    "string) or none: the body is JSON in each case; other media types answer 415. "
    "`Content-Encoding: gzip` is accepted (the size cap applies to the inflated body too)."
)
_BATCH = f"Up to the batch limit of events; each is validated on its own. {_SENT_AS}"
INGESTION_BODY_DESCRIPTIONS = {
    **dict.fromkeys(ROUTES.values(), f"One item. {_SENT_AS}"),
    BATCH_ROUTE: _BATCH,
    **dict.fromkeys(LMS_ROUTES.values(), f"One item; its `type` says which. {_SENT_AS}"),
    **{f"{path}/batch": _BATCH for path in LMS_ROUTES.values()},
}


def _valid_bodies(stream: Stream) -> dict[str, dict[str, Any]]:
    folder = resources.files("schemas").joinpath("examples", stream.value)
    bodies = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith("valid_") and entry.name.endswith(".json"):
            bodies[entry.name.removeprefix("valid_").removesuffix(".json")] = json.loads(entry.read_text())
    return bodies


def _named(bodies: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: {"summary": name.replace("_", " "), "value": body} for name, body in bodies.items()}


@cache
def ingestion_examples() -> dict[str, dict[str, Any]]:
    """``{path: {name: {"summary", "value"}}}`` for every ingestion route."""
    examples: dict[str, dict[str, Any]] = {
        path: _named(_valid_bodies(stream)) for stream, path in ROUTES.items()
    }
    events = list(_valid_bodies(Stream.EVENTS).values())
    examples[BATCH_ROUTE] = {
        "every_valid_event": {"summary": "a batch of events", "value": {"events": events}}
    }
    for stream, path in LMS_ROUTES.items():
        bodies = _valid_bodies(stream)
        examples[path] = _named(bodies)
        examples[f"{path}/batch"] = {
            "every_event_type": {
                "summary": "one item of every event type",
                "value": {"events": list(bodies.values())},
            }
        }
    return examples
