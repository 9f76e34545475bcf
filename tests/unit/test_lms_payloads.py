"""The learning platform's example payloads (``schemas/examples/lms_*``): every event type has a valid
example, each validates and stamps into a message its stream decodes, with the body's fields and the
subject key; each invalid one is refused for exactly the documented fields; the privacy policy applies to
LMS activity messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from ingest_gateway.stamping import MAX_FUTURE, stamp
from privacy.policy import CLIENT_FIELDS, PrivacyPolicy, apply_ip_handling, parse_user_agent
from schemas.lms_payloads import LMS_PAYLOADS
from schemas.messages import decode_batch, decode_event, encode_batch
from schemas.tenant_config import IpHandling
from schemas.topics import LMS_STREAMS, Stream
from tests.support.examples import (
    LMS_EVENT_TYPES,
    all_examples,
    example,
    expected_errors,
    lms_message_fields,
    same_value,
)

RECEIVED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)  # after every example's time, within a day of none
SALT = b"s" * 32
EVENT_TYPES = LMS_EVENT_TYPES
SERVER_FIELDS = {
    "id",
    "tenant_id",
    "received_at",
    "schema_version",
    "time_clamped",
    "client_keyed",
    "timestamp",
}
VALID = all_examples("valid", LMS_STREAMS)
INVALID = all_examples("invalid", LMS_STREAMS)


def _ids(value: Any) -> str | None:
    """Test ids: the stream and the file name (a body takes pytest's own id)."""
    return None if isinstance(value, dict) else str(getattr(value, "value", value))


def message_of(stream: Stream, body: dict[str, Any], **options: Any) -> dict[str, Any]:
    """The stamped message, through its JSON form as Kafka carries it."""
    stamped = stamp(LMS_PAYLOADS[stream].model_validate(body), "acme", RECEIVED, **options)
    message: dict[str, Any] = orjson.loads(orjson.dumps(stamped))
    return message


def test_every_event_type_has_a_valid_example_and_an_invalid_one() -> None:
    for stream, types in EVENT_TYPES.items():
        assert {body["type"] for s, _, body in VALID if s is stream} == types, stream
        refused = {body.get("type") for s, _, body in INVALID if s is stream}
        assert types <= refused, (stream, types - refused)


@pytest.mark.parametrize(("stream", "name", "body"), VALID, ids=_ids)
def test_a_valid_example_becomes_a_message_with_its_fields_and_subject(
    stream: Stream, name: str, body: dict[str, Any]
) -> None:
    payload = LMS_PAYLOADS[stream].model_validate(body)
    assert payload.model_dump(mode="json", exclude_unset=True).keys() == body.keys()
    message = message_of(stream, body)
    expected = lms_message_fields(stream, body)
    for field, value in expected.items():
        if field == "timestamp" and "sent_at" in body:
            continue  # corrected for the client's clock skew
        assert same_value(value, message[field]), (field, value, message[field])
    defaults = payload.model_dump(mode="json")  # the optional fields the body left out
    for field in set(message) - set(expected) - SERVER_FIELDS:
        assert field in defaults and message[field] == defaults[field], field
    assert message["tenant_id"] == "acme"
    assert message["client_keyed"] is ("id" in body)
    if "timestamp" not in body:
        assert datetime.fromisoformat(message["timestamp"]) == RECEIVED
    decoded = decode_event(stream, message)
    assert (decoded.type, decoded.user_id, decoded.tenant_id) == (body["type"], expected["user_id"], "acme")
    (again,) = decode_batch(stream, encode_batch([message]))
    assert again == decoded


def test_the_skew_of_the_clients_clock_moves_an_upserts_time() -> None:
    body = example(Stream.LMS_ENTITIES, "valid_enrollment_completed.json")
    message = message_of(Stream.LMS_ENTITIES, body)
    skew = RECEIVED - datetime.fromisoformat(body["sent_at"])
    assert datetime.fromisoformat(message["timestamp"]) == datetime.fromisoformat(body["timestamp"]) + skew


@pytest.mark.parametrize(("stream", "name", "body"), INVALID, ids=_ids)
def test_an_invalid_example_is_refused_for_exactly_the_documented_fields(
    stream: Stream, name: str, body: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError) as caught:
        LMS_PAYLOADS[stream].model_validate(body)
    fields = set()
    for error in caught.value.errors():
        loc = [str(part) for part in error["loc"]]
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = ["type"]
        elif loc and loc[0] == body.get("type"):  # pydantic names the union member first
            loc = loc[1:]
        fields.add(".".join(loc) or "(body)")
    assert sorted(fields) == sorted(expected_errors(stream)[name])


def test_every_invalid_example_is_documented_and_every_documented_one_exists() -> None:
    for stream in LMS_STREAMS:
        assert sorted(name for s, name, _ in INVALID if s is stream) == sorted(expected_errors(stream))


def test_a_time_far_in_the_future_is_clamped_to_the_time_received() -> None:
    body = {**example(Stream.LMS_TELEMETRY, "valid_uptime.json")}
    body["timestamp"] = (RECEIVED + MAX_FUTURE + timedelta(seconds=1)).isoformat()
    message = message_of(Stream.LMS_TELEMETRY, body)
    assert message["time_clamped"] is True
    assert datetime.fromisoformat(message["timestamp"]) == RECEIVED
    decode_event(Stream.LMS_TELEMETRY, message)


@pytest.mark.parametrize(
    ("mode", "stored"),
    [
        (IpHandling.STORE, "203.0.113.42"),
        (IpHandling.TRUNCATE, "203.0.113.0"),
        (IpHandling.HASH, apply_ip_handling("203.0.113.42", IpHandling.HASH, SALT)),
        (IpHandling.DROP, None),
    ],
)
def test_the_privacy_policy_applies_to_an_activitys_address_and_user_agent(
    mode: IpHandling, stored: str | None
) -> None:
    body = example(Stream.LMS_ACTIVITY, "valid_login_with_client.json")
    message = message_of(Stream.LMS_ACTIVITY, body, privacy=PrivacyPolicy(mode, SALT, keep_user_agent=False))
    assert message["ip_address"] == stored
    assert message["user_agent"] is None
    client = parse_user_agent(body["user_agent"])
    assert {field: message[field] for field in CLIENT_FIELDS} == client._asdict()
    assert client.browser == "Safari"
    decoded = decode_event(Stream.LMS_ACTIVITY, message)
    assert (decoded.ip_address, decoded.browser, decoded.os) == (stored, "Safari", "Mac OS X")


def test_the_privacy_policy_leaves_entities_and_telemetry_alone() -> None:
    policy = PrivacyPolicy(IpHandling.HASH, SALT, keep_user_agent=False)
    for stream in (Stream.LMS_ENTITIES, Stream.LMS_TELEMETRY):
        for _, _, body in all_examples("valid", [stream]):
            fixed = {**body, "id": "0190f5b8-6a7e-7c2d-8e1f-3a4b5c6d7e8f"}
            assert message_of(stream, fixed, privacy=policy) == message_of(stream, fixed)
