"""Server stamping: ids, received_at, skew-corrected event time, future clamping."""

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import orjson

from ingest_gateway.stamping import MAX_FUTURE, event_time, stamp
from schemas.messages import MESSAGE_MODELS
from schemas.payloads import PAYLOAD_MODELS, AnalyticsEventCreate, UsageMetricCreate
from schemas.topics import Stream
from tests.examples import example, examples

RECEIVED = datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=UTC)


def test_no_timestamp_means_received_at() -> None:
    assert event_time(RECEIVED, None, None) == (RECEIVED, False)
    assert event_time(RECEIVED, None, RECEIVED - timedelta(hours=3)) == (RECEIVED, False)


def test_backdated_timestamp_is_kept() -> None:
    old = datetime(2025, 1, 1, tzinfo=UTC)
    assert event_time(RECEIVED, old, None) == (old, False)


def test_clock_skew_is_corrected_by_received_minus_sent() -> None:
    # client clock runs 10 minutes fast: it says it sent at 12:10 what the server received at 12:00
    client_sent = RECEIVED + timedelta(minutes=10)
    client_event = RECEIVED + timedelta(minutes=5)
    assert event_time(RECEIVED, client_event, client_sent) == (RECEIVED - timedelta(minutes=5), False)


def test_more_than_a_day_in_the_future_is_clamped_and_flagged() -> None:
    assert event_time(RECEIVED, RECEIVED + MAX_FUTURE, None) == (RECEIVED + MAX_FUTURE, False)
    assert event_time(RECEIVED, RECEIVED + MAX_FUTURE + timedelta(milliseconds=1), None) == (RECEIVED, True)


def test_stamped_message_is_a_valid_kafka_message_for_every_example() -> None:
    for stream in Stream:
        for _, body in examples(stream, "valid"):
            payload = PAYLOAD_MODELS[stream].model_validate(body)
            message = stamp(payload, "acme", RECEIVED)
            decoded = MESSAGE_MODELS[stream].model_validate_json(orjson.dumps(message))
            assert decoded.tenant_id == "acme"
            assert decoded.received_at == datetime(2026, 11, 27, 12, 0, 0, 123000, tzinfo=UTC)


def test_generated_ids_are_uuid7_and_client_ids_are_kept() -> None:
    body = example(Stream.EVENTS, "valid_minimal_page_view.json")
    generated = stamp(AnalyticsEventCreate.model_validate({**body, "id": None}), "t", RECEIVED)
    assert UUID(generated["id"]).version == 7
    client_id = "0190f5b8-6a7e-7c2d-8e1f-3a4b5c6d7e8f"
    kept = stamp(AnalyticsEventCreate.model_validate({**body, "id": client_id}), "t", RECEIVED)
    assert kept["id"] == client_id


def test_event_time_is_written_in_utc_with_milliseconds() -> None:
    body = {
        **example(Stream.EVENTS, "valid_minimal_page_view.json"),
        "timestamp": "2026-11-20T09:15:00.250987+01:00",
    }
    message = stamp(AnalyticsEventCreate.model_validate(body), "t", RECEIVED)
    assert message["timestamp"] == "2026-11-20T08:15:00.250Z"
    assert message["time_clamped"] is False


def test_usage_dates_far_in_the_future_are_clamped_to_the_received_date() -> None:
    body = example(Stream.USAGE, "valid_seed_daily_usage.json")
    future = stamp(UsageMetricCreate.model_validate({**body, "date": "2026-11-30"}), "t", RECEIVED)
    assert (future["date"], future["time_clamped"]) == ("2026-11-27", True)
    tomorrow = stamp(UsageMetricCreate.model_validate({**body, "date": "2026-11-28"}), "t", RECEIVED)
    assert (tomorrow["date"], tomorrow["time_clamped"]) == ("2026-11-28", False)
    assert date.fromisoformat(tomorrow["date"])
