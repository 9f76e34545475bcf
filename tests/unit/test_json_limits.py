"""Free-form JSON: depth, key and size bounds; numbers read exactly and refused when they would change."""

import orjson
import pytest
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from schemas.json_limits import (
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    MAX_JSON_KEYS,
    NUMBER_OUT_OF_RANGE,
    _may_hold_inexact_numbers,
    check_bounded_json,
    loads_exact,
)
from schemas.payloads import AnalyticsEventCreate, PerformanceMetricCreate
from schemas.topics import Stream
from tests.support.examples import all_examples, example


def nested(levels: int) -> object:
    value: object = 1
    for _ in range(levels - 1):
        value = {"k": value}
    return value


def test_depth_limit_is_inclusive() -> None:
    assert check_bounded_json(nested(MAX_JSON_DEPTH)) == nested(MAX_JSON_DEPTH)
    with pytest.raises(ValueError, match="nested deeper"):
        check_bounded_json(nested(MAX_JSON_DEPTH + 1))


def test_lists_count_towards_depth_and_items() -> None:
    with pytest.raises(ValueError, match="keys and items"):
        check_bounded_json({"items": list(range(MAX_JSON_KEYS + 1))})


def test_serialized_size_is_capped() -> None:
    assert check_bounded_json({"s": "x" * (MAX_JSON_BYTES - 100)})
    with pytest.raises(ValueError, match="bytes serialized"):
        check_bounded_json({"s": "x" * MAX_JSON_BYTES})


# ---- numbers: read exactly, refused when they would be stored changed ----------------------------------

U64_MAX, I64_MIN = 18446744073709551615, -9223372036854775808
CHANGED = {  # literal → what orjson alone reads (silently changed)
    b"18446744073709551616": 1.8446744073709552e19,
    b"-9223372036854775809": -9.223372036854776e18,
    b"123456789012345678901234567890": 1.2345678901234568e29,
    b"1e-400": 0.0,
    b"-1.5E-400": -0.0,
    b"0." + b"0" * 400 + b"1": 0.0,
}
KEPT = {  # literal → the value stored
    b"18446744073709551615": U64_MAX,
    b"-9223372036854775808": I64_MIN,
    b"5e-324": 5e-324,
    b"1e-300": 1e-300,
    b"0e-400": 0.0,
    b"0.1": 0.1,
}


def body(literal: bytes) -> bytes:
    return b'{"user_id": "u", "properties": {"ok": [1, 2.5, "7e-7123-"], "n": ' + literal + b"}}"


@pytest.mark.parametrize("literal", list(CHANGED))
def test_numbers_orjson_would_change_are_read_exactly_and_refused(literal: bytes) -> None:
    assert orjson.loads(body(literal))["properties"]["n"] == CHANGED[literal]  # the silent change
    parsed = loads_exact(body(literal))
    assert parsed["properties"]["ok"] == [1, 2.5, "7e-7123-"]
    with pytest.raises(PydanticCustomError) as caught:
        check_bounded_json(parsed["properties"])
    assert caught.value.type == NUMBER_OUT_OF_RANGE
    assert " at n " in caught.value.message() and "send it as a string" in caught.value.message()


@pytest.mark.parametrize("literal", list(KEPT))
def test_numbers_stored_unchanged_are_accepted(literal: bytes) -> None:
    parsed = loads_exact(body(literal))
    assert parsed == orjson.loads(body(literal))
    assert check_bounded_json(parsed["properties"])["n"] == KEPT[literal]
    assert orjson.loads(orjson.dumps(parsed["properties"]))["n"] == KEPT[literal]  # as stored, read back


def test_the_refusal_names_the_value_and_its_place() -> None:
    parsed = loads_exact(b'{"a": {"b": [0, 18446744073709551616]}, "c": 1e-400}')
    with pytest.raises(PydanticCustomError) as caught:
        check_bounded_json(parsed)
    assert "integer 18446744073709551616 at a.b[1] is outside the 64-bit range" in caught.value.message()
    with pytest.raises(PydanticCustomError, match=r"1E-400 at c is too small for a 64-bit float"):
        check_bounded_json({"c": parsed["c"]})


def test_payload_models_report_the_field_and_typed_fields_their_own_bound() -> None:
    event = {**example(Stream.EVENTS, "valid_minimal_page_view.json"), "properties": {"big": 2**64}}
    with pytest.raises(ValidationError) as caught:
        AnalyticsEventCreate.model_validate(event)
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [(("properties",), NUMBER_OUT_OF_RANGE)]
    vitals = loads_exact(
        orjson.dumps(example(Stream.PERFORMANCE, "valid_with_page.json")).replace(
            b'"page_load_time":', b'"page_load_time":18446744073709551616,"x":'
        )
    )
    vitals.pop("x")
    with pytest.raises(ValidationError) as typed:
        PerformanceMetricCreate.model_validate(vitals)
    assert [(e["loc"], e["type"]) for e in typed.value.errors()] == [(("page_load_time",), "less_than_equal")]


def test_malformed_and_infinite_numbers_are_still_parse_errors() -> None:
    for text in (b'{"a": 1e400}', b'{"a": NaN}', b'{"a": 1', b'{"a": 18446744073709551616'):
        with pytest.raises(orjson.JSONDecodeError):
            loads_exact(text)


def test_ordinary_bodies_take_the_fast_path() -> None:
    # the second, exact parse runs only on candidates; ids and dates must not make every body one
    ordinary = [orjson.dumps(b) for _, _, b in all_examples("valid")]
    ordinary.append(b'{"id": "0190f5b8-6a7e-7123-8e1f-3a4b5c6e123f", "n": [1e-30, 123456789012345678]}')
    assert not [text for text in ordinary if _may_hold_inexact_numbers(text)]
    assert all(_may_hold_inexact_numbers(body(literal)) for literal in CHANGED)
