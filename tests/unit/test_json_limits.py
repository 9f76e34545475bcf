import pytest

from schemas.json_limits import MAX_JSON_BYTES, MAX_JSON_DEPTH, MAX_JSON_KEYS, check_bounded_json


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
