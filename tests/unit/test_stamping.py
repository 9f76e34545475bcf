"""Server stamping: ids, received_at, skew-corrected event time, future clamping, the time policy's
range and retention checks, client-keyed ids."""

from datetime import UTC, date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import orjson
import pytest
from pydantic import ValidationError

from ingest_gateway.stamping import MAX_FUTURE, Placement, TimeRefused, event_time, place, stamp
from schemas.event_time import BEYOND_RETENTION, EARLIEST, OUT_OF_RANGE, RawRetention
from schemas.messages import MESSAGE_MODELS
from schemas.payloads import PAYLOAD_MODELS, AnalyticsEventCreate, UsageMetricCreate
from schemas.topics import PRODUCT_STREAMS, Stream
from tests.support.examples import example, examples

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
    for stream in PRODUCT_STREAMS:  # the LMS streams': tests/unit/test_lms_payloads.py
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


# ---- the time policy: skew-corrected range, retention, clamping; client-keyed ids ------------------------

ONE_MS = timedelta(milliseconds=1)


def test_a_skew_correction_leaving_the_range_is_refused_never_an_overflow() -> None:
    # the case: timestamp=now, sent_at=9999-12-31 — the payload refuses sent_at, and the arithmetic
    # itself, reached directly, answers a refusal instead of OverflowError
    body = {**example(Stream.EVENTS, "valid_minimal_page_view.json"), "timestamp": "2026-11-27T12:00:00Z"}
    with pytest.raises(ValidationError) as caught:
        AnalyticsEventCreate.model_validate({**body, "sent_at": "9999-12-31T23:59:59Z"})
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [(("sent_at",), OUT_OF_RANGE)]
    with pytest.raises(TimeRefused) as refused:
        event_time(RECEIVED, RECEIVED, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
    assert (refused.value.kind, refused.value.field) == (OUT_OF_RANGE, "timestamp")


def test_the_skew_corrected_time_is_checked_against_the_bounds_exactly() -> None:
    skew = timedelta(days=3)  # the client's clock runs three days fast
    sent_at = RECEIVED + skew
    assert event_time(RECEIVED, EARLIEST + skew, sent_at) == (EARLIEST, False)
    with pytest.raises(TimeRefused) as refused:
        event_time(RECEIVED, EARLIEST + skew - ONE_MS, sent_at)
    assert refused.value.kind == OUT_OF_RANGE
    assert "clock skew" in refused.value.reason and "1970-12-31T23:59:59.999Z" in refused.value.reason
    late_sent = datetime(1971, 1, 1, tzinfo=UTC)  # corrected far beyond the end: refused, not clamped
    with pytest.raises(TimeRefused):
        event_time(RECEIVED, datetime(2089, 1, 1, tzinfo=UTC), late_sent)


def test_events_older_than_the_raw_retention_are_refused_at_the_jobs_cutoff() -> None:
    retention = RawRetention(30, ZoneInfo("UTC"))
    oldest = RECEIVED - timedelta(days=30)
    body = example(Stream.EVENTS, "valid_minimal_page_view.json")

    def payload(at: datetime) -> AnalyticsEventCreate:
        return AnalyticsEventCreate.model_validate({**body, "timestamp": at.isoformat()})

    assert place(payload(oldest), RECEIVED, retention) == Placement(oldest, False, "timestamp")
    with pytest.raises(TimeRefused) as refused:
        place(payload(oldest - ONE_MS), RECEIVED, retention)
    assert (refused.value.kind, refused.value.field) == (BEYOND_RETENTION, "timestamp")
    assert "30 days" in refused.value.reason and "2026-10-28T12:00:00.123Z" in refused.value.reason
    assert place(payload(oldest - ONE_MS), RECEIVED).when == oldest - ONE_MS  # no retention given: kept


def test_usage_dates_older_than_the_retention_are_refused_by_the_tenants_local_day() -> None:
    body = example(Stream.USAGE, "valid_seed_daily_usage.json")
    # 12:00 UTC on 2026-11-27 is already 2026-11-28 in Kiritimati (UTC+14): its oldest day is one later
    kiritimati = RawRetention(30, ZoneInfo("Pacific/Kiritimati"))
    utc = RawRetention(30, ZoneInfo("UTC"))
    on_oct_28 = UsageMetricCreate.model_validate({**body, "date": "2026-10-28"})
    assert place(on_oct_28, RECEIVED, utc) == Placement(date(2026, 10, 28), False, "date")
    with pytest.raises(TimeRefused) as refused:
        place(on_oct_28, RECEIVED, kiritimati)
    assert (refused.value.kind, refused.value.field) == (BEYOND_RETENTION, "date")
    assert "oldest accepted is 2026-10-29" in refused.value.reason


def test_clamped_times_are_placed_at_received_at_and_flagged() -> None:
    body = example(Stream.EVENTS, "valid_minimal_page_view.json")
    ahead = AnalyticsEventCreate.model_validate(
        {**body, "timestamp": (RECEIVED + timedelta(days=2)).isoformat()}
    )
    placed = place(ahead, RECEIVED, RawRetention(30, ZoneInfo("UTC")))
    assert placed == Placement(RECEIVED, True, "timestamp")
    message = stamp(ahead, "t", RECEIVED, placement=placed)
    assert (message["timestamp"], message["time_clamped"]) == ("2026-11-27T12:00:00.123Z", True)


def test_client_keyed_says_whether_the_id_came_from_the_client() -> None:
    body = example(Stream.EVENTS, "valid_minimal_page_view.json")
    plain = AnalyticsEventCreate.model_validate(body)
    key_id = UUID("0190f5b8-6a7e-7c2d-8e1f-3a4b5c6d7e8f")
    cases = [
        (stamp(plain, "t", RECEIVED), False),
        (stamp(plain, "t", RECEIVED, key_id), True),  # an Idempotency-Key's id
        (stamp(AnalyticsEventCreate.model_validate({**body, "id": str(key_id)}), "t", RECEIVED), True),
    ]
    for message, keyed in cases:
        assert message["client_keyed"] is keyed
        assert MESSAGE_MODELS[Stream.EVENTS].model_validate_json(orjson.dumps(message)).client_keyed is keyed
    usage = stamp(
        UsageMetricCreate.model_validate(example(Stream.USAGE, "valid_minimal.json")), "t", RECEIVED, key_id
    )
    assert usage["client_keyed"] is True
