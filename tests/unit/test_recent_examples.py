"""The examples the gateway tests post never age out: moved by ``tests.support.recent_examples``, each is
accepted by the gateway's time policy under the shortest raw retention a tenant may set, on any day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ingest_gateway.stamping import place
from schemas.event_time import RawRetention
from schemas.payloads import PAYLOAD_MODELS
from schemas.topics import Stream
from tests.support.examples import example
from tests.support.recent_examples import recent, recent_examples

SHORTEST_RAW_DAYS = 30
FAR_DAYS = [date(2031, 3, 1), date(2089, 12, 29)]  # the latter: the last days of the supported range


@pytest.mark.parametrize("today", FAR_DAYS, ids=str)
@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Etc/GMT+12"])
def test_every_moved_example_is_accepted_on_a_far_day(today: date, zone: str) -> None:
    received_at = datetime(today.year, today.month, today.day, 0, 0, 1, tzinfo=UTC)  # the earliest moment
    retention = RawRetention(SHORTEST_RAW_DAYS, ZoneInfo(zone))
    for stream, name, body in recent_examples("valid", today):
        placement = place(PAYLOAD_MODELS[stream].model_validate(body), received_at, retention)
        assert not placement.clamped, name
        if "timestamp" in body or "date" in body:
            when = placement.when
            if isinstance(when, datetime):
                assert received_at - timedelta(days=4) <= when <= received_at, (name, when)
            else:
                assert today - timedelta(days=4) <= when < today, (name, when)


def test_times_move_by_whole_days_and_keep_their_spacing_and_offsets() -> None:
    today = date(2031, 3, 1)
    usage = recent(example(Stream.USAGE, "valid_seed_daily_usage.json"), today)
    assert usage["date"] == "2031-02-27"
    assert usage["features_used"][0]["last_used"] == "2031-02-27T10:30:00Z"
    assert usage["user_flow"][0]["timestamp"] == "2031-02-27T10:30:00Z"
    event = recent(example(Stream.EVENTS, "valid_backdated_with_client_id.json"), today)
    assert (event["timestamp"], event["sent_at"]) == (
        "2031-02-27T09:15:00.250+01:00",
        "2031-02-27T09:20:00+01:00",
    )
    assert event["id"] == "0190f5b8-6a7e-7c2d-8e1f-3a4b5c6d7e8f"
    activity = recent(example(Stream.ACTIVITIES, "valid_critical_error.json"), today)
    assert activity["timestamp"] == "2031-02-27T23:59:59.500-05:00"


def test_a_body_without_its_own_time_is_unchanged_and_the_example_is_not_modified() -> None:
    original = example(Stream.EVENTS, "valid_minimal_page_view.json")
    assert recent(original, date(2031, 3, 1)) == original
    usage = example(Stream.USAGE, "valid_minimal.json")
    recent(usage, date(2031, 3, 1))
    assert usage["date"] == "2026-11-26"
