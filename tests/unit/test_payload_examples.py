"""Every example payload of the product's streams is accepted or refused exactly as documented (the
learning platform's: tests/unit/test_lms_payloads.py), and every stream has examples of both kinds."""

from typing import Any

import pytest
from pydantic import ValidationError

from schemas.payloads import PAYLOAD_MODELS
from schemas.topics import Stream
from tests.support.examples import all_examples, expected_errors


@pytest.mark.parametrize(
    ("stream", "name", "body"), all_examples("valid"), ids=lambda v: getattr(v, "value", v)
)
def test_valid_examples_validate(stream: Stream, name: str, body: Any) -> None:
    model = PAYLOAD_MODELS[stream].model_validate(body)
    assert model.model_dump(mode="json", exclude_unset=True).keys() == body.keys()


@pytest.mark.parametrize(
    ("stream", "name", "body"), all_examples("invalid"), ids=lambda v: getattr(v, "value", v)
)
def test_invalid_examples_fail_on_exactly_the_documented_fields(stream: Stream, name: str, body: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        PAYLOAD_MODELS[stream].model_validate(body)
    failing = sorted({".".join(str(p) for p in error["loc"]) for error in caught.value.errors()})
    assert failing == sorted(expected_errors(stream)[name])


def test_every_stream_has_valid_and_invalid_examples() -> None:
    for stream in Stream:
        assert [s for s, _, _ in all_examples("valid", Stream)].count(stream) >= 2
        assert [s for s, _, _ in all_examples("invalid", Stream)].count(stream) >= 3
