"""Bounds on client-supplied free-form JSON (``properties``, ``details``, ``metadata``, ...).

Free-form fields are stored as JSON text and re-parsed by readers, so an unbounded one would let a single
client bloat rows, Kafka messages and every dashboard query. Limits are per field.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from pydantic import AfterValidator

MAX_JSON_DEPTH = 8
"""Nesting levels below the field itself; ``{"a": {"b": 1}}`` has depth 2."""
MAX_JSON_BYTES = 16 * 1024
"""Serialized size of one free-form field."""
MAX_JSON_KEYS = 256
"""Keys or items across the whole value."""


def _measure(value: Any, depth: int, counter: list[int]) -> None:
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        counter[0] += len(value)
        for item in value.values():
            _measure(item, depth + 1, counter)
    elif isinstance(value, list):
        counter[0] += len(value)
        for item in value:
            _measure(item, depth + 1, counter)
    if counter[0] > MAX_JSON_KEYS:
        raise ValueError(f"more than {MAX_JSON_KEYS} keys and items")


def check_bounded_json(value: Any) -> Any:
    """Reject values nested too deeply, with too many keys, or too large once serialized.

    Fast path: in the serialized text, brackets bound the depth and ``:``/``,`` bound the keys and items
    from above (characters inside strings only over-count), so small values skip the exact walk.
    """
    text = orjson.dumps(value)
    if len(text) > MAX_JSON_BYTES:
        raise ValueError(f"{len(text)} bytes serialized; at most {MAX_JSON_BYTES} are accepted")
    openers = text.count(b"{") + text.count(b"[")
    separators = text.count(b":") + text.count(b",") + openers
    if openers >= MAX_JSON_DEPTH or separators > MAX_JSON_KEYS:  # a scalar leaf is one level more
        _measure(value, 1, [0])
    return value


JSONObject = Annotated[dict[str, Any], AfterValidator(check_bounded_json)]
"""A JSON object with bounded depth, key count and size."""
JSONList = Annotated[list[Any], AfterValidator(check_bounded_json)]
"""A JSON array with bounded depth, item count and size."""
