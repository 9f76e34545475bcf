"""Pure transforms over every example payload: raw rows and feed rows, deterministic, bucketed right."""

from datetime import UTC, date, datetime

import orjson
import pytest

from ingest_gateway.stamping import stamp
from schemas.messages import MESSAGE_MODELS, encode_batch
from schemas.payloads import PAYLOAD_MODELS
from schemas.rows import RAW_COLUMNS, RAW_TABLES, feed_rows, raw_rows
from schemas.topics import Stream
from stream_processors.pipeline import Delivery, decode
from stream_processors.settings import ZoneLookup
from tests.support.examples import all_examples, example

RECEIVED = datetime(2027, 1, 5, 12, tzinfo=UTC)  # after every example and test time
ZONES = ZoneLookup("UTC", {"berlin": "Europe/Berlin"})


def message(stream: Stream, body: dict, tenant: str = "acme") -> object:
    stamped = stamp(PAYLOAD_MODELS[stream].model_validate(body), tenant, RECEIVED)
    return MESSAGE_MODELS[stream].model_validate_json(orjson.dumps(stamped))


@pytest.mark.parametrize(
    ("stream", "name", "body"), all_examples("valid"), ids=lambda v: getattr(v, "value", v)
)
def test_every_example_gives_one_raw_row_with_every_column(stream: Stream, name: str, body: dict) -> None:
    event = message(stream, body)
    (batch,) = raw_rows(stream, [event])
    assert batch.table == RAW_TABLES[stream]
    assert batch.columns == RAW_COLUMNS[stream]
    assert batch.row_count == 1
    row = dict(zip(batch.columns, (column[0] for column in batch.data), strict=True))
    assert row["tenant_id"] == "acme"
    assert str(row["id"]) == str(event.id)  # type: ignore[attr-defined]
    assert row["user_id"] == body["user_id"]
    assert raw_rows(stream, [event]) == raw_rows(stream, [event])  # deterministic: a re-formed batch matches


@pytest.mark.parametrize(
    ("stream", "name", "body"), all_examples("valid"), ids=lambda v: getattr(v, "value", v)
)
def test_every_example_feeds_its_rollups_deterministically(stream: Stream, name: str, body: dict) -> None:
    event = message(stream, body)
    batches = feed_rows(stream, [event], ZONES)
    assert batches and batches == feed_rows(stream, [event], ZONES)
    summary = batches[0]
    assert summary.row_count == 1


def test_page_view_feed_row_carries_page_and_flag_and_local_buckets() -> None:
    body = {**example(Stream.EVENTS, "valid_minimal_page_view.json"), "timestamp": "2026-12-31T23:30:00Z"}
    (batch,) = feed_rows(Stream.EVENTS, [message(Stream.EVENTS, body, tenant="berlin")], ZONES)
    row = dict(zip(batch.columns, (column[0] for column in batch.data), strict=True))
    assert (row["day"], row["week"], row["month"]) == (date(2027, 1, 1), date(2026, 12, 28), date(2027, 1, 1))
    assert (row["page"], row["is_page_view"]) == ("/dashboard", 1)


def test_usage_feeds_one_row_per_feature() -> None:
    event = message(Stream.USAGE, example(Stream.USAGE, "valid_seed_daily_usage.json"))
    summary, features = feed_rows(Stream.USAGE, [event], ZONES)
    assert (summary.row_count, features.row_count) == (1, 1)
    assert features.data[features.columns.index("feature_name")] == ["project_creation"]
    uses = features.data[features.columns.index("usage_count")][0]
    assert summary.data[summary.columns.index("feature_uses")] == [{"project_creation": uses}]
    assert summary.data[summary.columns.index("features_recorded")] == [1]


def test_a_summary_counts_a_feature_reported_in_two_categories_once_by_name() -> None:
    body = example(Stream.USAGE, "valid_seed_daily_usage.json")
    (first,) = body["features_used"]
    body["features_used"] = [
        {**first, "feature_name": "editor", "category": "projects", "usage_count": 5},
        {**first, "feature_name": "editor", "category": "assets", "usage_count": 2},
        {**first, "feature_name": "share", "usage_count": 1},
    ]
    summary, features = feed_rows(Stream.USAGE, [message(Stream.USAGE, body)], ZONES)
    assert features.row_count == 3
    assert summary.data[summary.columns.index("feature_uses")] == [{"editor": 7, "share": 1}]


def test_decode_dead_letters_bad_envelopes_and_bad_events_and_keeps_good_ones() -> None:
    good = orjson.loads(
        orjson.dumps(
            stamp(
                PAYLOAD_MODELS[Stream.EVENTS].model_validate(
                    example(Stream.EVENTS, "valid_minimal_page_view.json")
                ),
                "acme",
                RECEIVED,
            )
        )
    )
    deliveries = [
        Delivery("t", 0, 10, encode_batch([good, {**good, "event_type": "nope"}])),
        Delivery("t", 0, 11, b"not json"),
        Delivery("t", 0, 12, orjson.dumps({"schema_version": 99, "events": []})),
        Delivery("t", 0, 13, encode_batch([good])),
    ]
    events, letters = decode(Stream.EVENTS, deliveries)
    assert len(events) == 2
    assert [(x.step, x.offset) for x in letters] == [("validate", 10), ("decode", 11), ("decode", 12)]
    assert "event_type" in letters[0].error
    assert orjson.loads(letters[0].value)["event_type"] == "nope"
