"""Bounds on client-supplied free-form JSON (``properties``, ``details``, ``metadata``, ...), and numbers
read exactly.

Free-form fields are stored as JSON text and re-parsed by readers, so an unbounded one would let a single
client bloat rows, Kafka messages and every dashboard query. Limits are per field.

Numbers are stored as orjson writes them: integers in the signed or unsigned 64-bit range, floats as IEEE
doubles. orjson's parser silently turns a larger integer into a rounded float and a float too small for a
double into ``0.0``; :func:`loads_exact` parses a request body like ``orjson.loads`` but keeps such numbers
exact (a Python ``int`` beyond 64 bits, a ``Decimal`` for a nonzero literal that would become zero), so
:func:`check_bounded_json` refuses them with an error naming the value and its place instead of storing a
changed value. (Infinity — ``1e400`` — is refused by the parser itself.) Ordinary rounding of a decimal
literal to the nearest double (``0.1``) is not a change we refuse: it is what every JSON reader does.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

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
    """Reject values nested too deeply, with too many keys, or too large once serialized, and numbers that
    cannot be stored unchanged (``number_out_of_range``, see the module docstring).

    Fast path: in the serialized text, brackets bound the depth and ``:``/``,`` bound the keys and items
    from above (characters inside strings only over-count), so small values skip the exact walk; an empty
    object or array (most events' ``properties``) skips everything.
    """
    if not value:
        return value
    try:
        text = orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        problem = _inexact_number(value, "")
        if problem is None:
            raise ValueError(f"not storable as JSON: {exc}") from exc
        raise PydanticCustomError(NUMBER_OUT_OF_RANGE, "{reason}", {"reason": problem}) from exc
    if len(text) > MAX_JSON_BYTES:
        raise ValueError(f"{len(text)} bytes serialized; at most {MAX_JSON_BYTES} are accepted")
    openers = text.count(b"{") + text.count(b"[")
    separators = text.count(b":") + text.count(b",") + openers
    if openers >= MAX_JSON_DEPTH or separators > MAX_JSON_KEYS:  # a scalar leaf is one level more
        _measure(value, 1, [0])
    return value


# ---- numbers -----------------------------------------------------------------------------------------

NUMBER_OUT_OF_RANGE = "number_out_of_range"
"""Error type of a number that would be stored changed."""
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1
"""Integers orjson reads and writes exactly: signed and unsigned 64-bit."""


def _shown(number: int | Decimal) -> str:
    text = str(number)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _inexact_number(value: Any, path: str) -> str | None:
    """Why the first number of ``value`` (depth first) cannot be stored unchanged, or ``None``; ``path``
    names where ``value`` is inside the field (``a.b[2]``)."""
    where = f" at {path}" if path else ""
    big = isinstance(value, int) and not isinstance(value, bool) and not INT_MIN <= value <= INT_MAX
    if big or (isinstance(value, Decimal) and value.adjusted() >= 0):
        return (
            f"the integer {_shown(value)}{where} is outside the 64-bit range ({INT_MIN} to {INT_MAX}) and "
            "would be stored as a rounded float; send it as a string"
        )
    if isinstance(value, Decimal):
        return (
            f"the number {_shown(value)}{where} is too small for a 64-bit float and would be stored as 0.0; "
            "send it as a string"
        )
    if isinstance(value, dict):
        items: Any = ((f"{path}.{key}" if path else str(key), item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    for inner, item in items:
        problem = _inexact_number(item, inner)
        if problem is not None:
            return problem
    return None


_DIGIT_RUN = b"9" * 19
"""In the translated body: 19 digits in a row, the shortest integer beyond 64 bits (and the shortest run of
zeros that can precede a float's first significant digit and reach underflow with a two-digit exponent)."""
_SMALL_EXPONENT = b"9e-999"
"""In the translated body: a negative exponent of three or more digits after a digit."""
_TRANSLATION = bytes(
    ord("9")
    if chr(c).isdigit() and c < 128
    else ord("e")
    if c in b"eE"
    else ord("-")
    if c == ord("-")
    else ord(" ")
    if c in b",]} \t\r\n"
    else ord("x")
    for c in range(256)
)
"""Digits → ``9``, ``e``/``E`` → ``e``, ``-`` kept, what ends a JSON number → space, anything else → ``x``."""


def _may_hold_inexact_numbers(body: bytes) -> bool:
    """Whether ``body`` may hold a number orjson would change (no false negatives; false positives cost a
    second, exact parse). A changed integer has at least 19 digits; a nonzero float that becomes ``0.0``
    has an exponent of at least three digits, or a run of zeros of at least 19 digits. An exponent candidate
    must end where a JSON number ends (so ids like ``...7e-7123-...`` do not count)."""
    translated = body.translate(_TRANSLATION)
    if _DIGIT_RUN in translated:
        return True
    at = translated.find(_SMALL_EXPONENT)
    while at != -1:
        end = at + len(_SMALL_EXPONENT)
        while end < len(translated) and translated[end] == ord("9"):
            end += 1
        if end == len(translated) or translated[end] == ord(" "):
            return True
        at = translated.find(_SMALL_EXPONENT, end)
    return False


def _exact_int(text: str) -> int | Decimal:
    # int() refuses more than 4,300 digits (CVE-2020-10735); such a number is beyond 64 bits anyway
    return int(text) if len(text) <= 4000 else Decimal(text)


def _exact_float(text: str) -> float | Decimal:
    number = float(text)
    if number == 0.0 and any(c in "123456789" for c in text.split("e")[0].split("E")[0]):
        return Decimal(text)  # underflow: a nonzero literal that reads as zero
    return number


def loads_exact(body: bytes) -> Any:
    """``orjson.loads(body)``, but integers beyond 64 bits stay exact ``int``s and nonzero floats too small
    for a double become ``Decimal``s (refused by :func:`check_bounded_json` and by typed fields).

    Raises ``orjson.JSONDecodeError`` for what orjson refuses (malformed JSON, infinity, NaN). The exact
    second parse (the standard library's) runs only when a cheap scan of the bytes finds a candidate."""
    value = orjson.loads(body)
    if not _may_hold_inexact_numbers(body):
        return value
    try:
        return json.loads(body, parse_int=_exact_int, parse_float=_exact_float)
    except RecursionError as exc:
        raise orjson.JSONDecodeError("nested too deeply", body.decode("utf-8", "replace"), 0) from exc


JSONObject = Annotated[dict[str, Any], AfterValidator(check_bounded_json)]
"""A JSON object with bounded depth, key count and size."""
JSONList = Annotated[list[Any], AfterValidator(check_bounded_json)]
"""A JSON array with bounded depth, item count and size."""
