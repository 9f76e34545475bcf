"""The supported event-time range (``schemas.event_time``): its bounds against ClickHouse's column types and
the retention backstops, the payload and Kafka-message checks, ISO text only, and the retention cutoffs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from pydantic import ValidationError

from jobs.retention_bounds import table_bound
from jobs.retention_tables import RAW_RETAINED, RETAINED_TABLES
from plumbing.migrate import load_migrations
from schemas.event_time import EARLIEST, END, OUT_OF_RANGE, RawRetention
from schemas.messages import decode_batch, decode_event
from schemas.payloads import AnalyticsEventCreate, PerformanceMetricCreate, UsageMetricCreate
from schemas.tenant_config import Retention, TenantSettings
from schemas.topics import Stream
from tests.support.examples import example, stamped_page_view

# ClickHouse's documented limits (independent of our code)
DATE_MIN, DATE_MAX = date(1970, 1, 1), date(2149, 6, 6)
DATETIME_MAX = datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)
ZONES = ["UTC", "Etc/GMT+12", "Pacific/Kiritimati", "America/Los_Angeles", "Asia/Kathmandu"]
ONE_MS = timedelta(milliseconds=1)

EVENT = example(Stream.EVENTS, "valid_minimal_page_view.json")
USAGE = example(Stream.USAGE, "valid_minimal.json")

REFUSED_TIMES = [
    "1969-12-31T23:59:59Z",
    "0002-01-01T12:02:08Z",
    "1970-01-01T00:00:00Z",
    "1970-01-04T00:00:00Z",
    "1970-12-31T23:59:59.999Z",  # one millisecond before the earliest
    "1971-01-01T00:30:00+01:00",  # 1970-12-31T23:30Z
    "2090-01-01T00:00:00Z",  # the exclusive end
    "9999-12-31T23:59:59Z",
]
ACCEPTED_TIMES = ["1971-01-01T00:00:00Z", "1971-01-01T01:00:00+01:00", "2089-12-31T23:59:59.999Z"]
NOT_TEXT = [0, 1_700_000_000, 1.5, True, "0", "1700000000", "  2026-01-01T00:00:00Z"]


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def test_every_bucket_of_the_range_fits_clickhouse_date_in_every_zone() -> None:
    for zone in map(ZoneInfo, ZONES):
        for moment in (EARLIEST, END - ONE_MS):
            day = moment.astimezone(zone).date()
            for bucket in (day, week_start(day), day.replace(day=1)):
                assert DATE_MIN <= bucket <= DATE_MAX, (zone, moment, bucket)
    # what the range excludes: 1970-01-01's week starts 1969-12-29, which Date cannot hold
    assert week_start(date(1970, 1, 1)) < DATE_MIN


def test_the_end_keeps_every_retention_backstop_inside_its_column_type() -> None:
    last = END - ONE_MS
    for table in RETAINED_TABLES:
        for grain in table.slices:
            days = timedelta(days=table.backstop_days(grain))
            if table.is_datetime:  # toDateTime(column) + INTERVAL n DAY: a DateTime, wraps past its end
                assert last + days <= DATETIME_MAX, table.name
            else:
                assert last.date() + days <= DATE_MAX, (table.name, grain)
    assert {t.column for t in RAW_RETAINED if t.is_datetime} == {"timestamp"}


def test_event_times_are_stored_in_types_holding_the_whole_range() -> None:
    sql = "\n".join(m.sql for m in load_migrations())
    assert "timestamp      DateTime64(3, 'UTC')" in sql  # 1900-2299
    assert "Date32" not in sql and "bucket Date" in sql


@pytest.mark.parametrize("value", REFUSED_TIMES)
@pytest.mark.parametrize("field", ["timestamp", "sent_at"])
def test_times_outside_the_range_are_refused_naming_the_bounds(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AnalyticsEventCreate.model_validate({**EVENT, field: value})
    (error,) = caught.value.errors()
    assert (error["loc"], error["type"]) == ((field,), OUT_OF_RANGE)
    assert (
        "1971-01-01T00:00:00Z (inclusive)" in error["msg"]
        and "2090-01-01T00:00:00Z (exclusive)" in error["msg"]
    )


@pytest.mark.parametrize("value", ACCEPTED_TIMES)
def test_times_at_the_bounds_are_accepted(value: str) -> None:
    for field in ("timestamp", "sent_at"):
        parsed = AnalyticsEventCreate.model_validate({**EVENT, field: value})
        assert getattr(parsed, field) == datetime.fromisoformat(value)


@pytest.mark.parametrize("value", NOT_TEXT)
def test_times_must_be_iso_text_never_numbers(value: Any) -> None:
    for field in ("timestamp", "sent_at"):
        with pytest.raises(ValidationError) as caught:
            PerformanceMetricCreate.model_validate(
                {**example(Stream.PERFORMANCE, "valid_with_page.json"), field: value}
            )
        (error,) = caught.value.errors()
        assert (error["loc"], error["type"]) == ((field,), "datetime_type")
        assert "ISO-8601" in error["msg"]


def test_usage_dates_outside_the_range_or_not_text_are_refused() -> None:
    for value, kind in [
        ("1969-12-31", OUT_OF_RANGE),
        ("1970-12-31", OUT_OF_RANGE),
        ("2090-01-01", OUT_OF_RANGE),
        (0, "date_type"),
        (86_400, "date_type"),
        ("0", "date_type"),
    ]:
        with pytest.raises(ValidationError) as caught:
            UsageMetricCreate.model_validate({**USAGE, "date": value})
        (error,) = caught.value.errors()
        assert (error["loc"], error["type"]) == (("date",), kind), value
    assert UsageMetricCreate.model_validate({**USAGE, "date": "1971-01-01"}).date == date(1971, 1, 1)
    assert UsageMetricCreate.model_validate({**USAGE, "date": "2089-12-31"}).date == date(2089, 12, 31)


def test_feature_last_used_must_be_text_but_has_no_range() -> None:
    feature = {"feature_name": "f", "category": "c", "usage_count": 1}
    body = {**USAGE, "features_used": [{**feature, "last_used": 0}]}
    with pytest.raises(ValidationError) as caught:
        UsageMetricCreate.model_validate(body)
    assert caught.value.errors()[0]["type"] == "datetime_type"
    kept = UsageMetricCreate.model_validate(
        {**USAGE, "features_used": [{**feature, "last_used": "1969-07-20T20:17:40Z"}]}
    )
    assert kept.features_used[0].last_used == datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC)


# ---- the Kafka messages: an event injected into a topic gets the same range -------------------------------


def usage_message(day: str) -> dict[str, Any]:
    return {**USAGE, "date": day, "tenant_id": "t", "id": "0190f5b8-6a7e-7c2d-8e1f-3a4b5c6d7e8f",
            "received_at": "2026-12-01T10:00:00.000Z", "schema_version": 1}  # fmt: skip


@pytest.mark.parametrize(
    ("stream", "event"),
    [
        (Stream.EVENTS, stamped_page_view("u", "s", "1969-12-31T23:59:59.000Z")),
        (Stream.EVENTS, stamped_page_view("u", "s", "0002-01-01T12:02:08.000Z")),
        (Stream.EVENTS, stamped_page_view("u", "s", "1970-12-31T23:59:59.999Z")),
        (Stream.EVENTS, stamped_page_view("u", "s", "2090-01-01T00:00:00.000Z")),
        (Stream.EVENTS, stamped_page_view("u", "s", "2026-12-01T10:00:00.000Z", "1969-12-31T00:00:00.000Z")),
        (Stream.EVENTS, stamped_page_view("u", "s", 0)),  # type: ignore[arg-type]
        (Stream.USAGE, usage_message("1969-12-31")),
        (Stream.USAGE, usage_message("2090-01-01")),
    ],
)
def test_messages_outside_the_range_fail_to_decode_alone_and_in_a_batch(
    stream: Stream, event: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        decode_event(stream, event)
    good = (
        usage_message("2026-11-30")
        if stream is Stream.USAGE
        else stamped_page_view("u", "s", "2026-11-30T00:00:00.000Z")
    )
    with pytest.raises(ValidationError):
        decode_batch(stream, orjson.dumps({"schema_version": 1, "events": [good, event]}))
    assert len(decode_batch(stream, orjson.dumps({"schema_version": 1, "events": [good, good]}))) == 2


def test_messages_at_the_bounds_decode() -> None:
    first = decode_event(Stream.EVENTS, stamped_page_view("u", "s", "1971-01-01T00:00:00.000Z"))
    last = decode_event(Stream.EVENTS, stamped_page_view("u", "s", "2089-12-31T23:59:59.999Z"))
    assert (first.timestamp, last.timestamp) == (EARLIEST, END - ONE_MS)  # type: ignore[attr-defined]
    assert decode_event(Stream.USAGE, usage_message("1971-01-01")).date == date(1971, 1, 1)  # type: ignore[attr-defined]


def test_client_keyed_is_optional_on_messages() -> None:
    older = stamped_page_view("u", "s", "2026-11-30T00:00:00.000Z")
    assert "client_keyed" not in older
    assert decode_event(Stream.EVENTS, older).client_keyed is False
    assert decode_event(Stream.EVENTS, {**older, "client_keyed": True}).client_keyed is True


# ---- retention: the gateway's cutoffs are the retention job's ---------------------------------------------


@pytest.mark.parametrize("zone", ZONES)
def test_retention_cutoffs_equal_the_retention_jobs_bounds(zone: str) -> None:
    tenant = TenantSettings(time_zone=zone, retention=Retention(raw_days=45))
    retention = RawRetention(45, ZoneInfo(zone))
    for now in (datetime(2026, 12, 6, 1, 30, tzinfo=UTC), datetime(2026, 12, 6, 13, 0, tzinfo=UTC)):
        for table in RAW_RETAINED:
            bound = table_bound(table, tenant, now)
            assert bound == (retention.oldest_time(now) if table.is_datetime else retention.oldest_day(now))
    reason = retention.reason(retention.oldest_time(datetime(2026, 12, 6, tzinfo=UTC)))
    assert "raw retention of 45 days" in reason and "2026-10-22T00:00:00.000Z" in reason


def test_a_sent_at_stored_before_the_gateway_checked_it_still_decodes() -> None:
    # sent_at has no bucket; rows stored with `sent_at: 0` must still read back (rollup rebuilds)
    old = {**stamped_page_view("u", "s", "2026-11-30T00:00:00.000Z"), "sent_at": "1970-01-01T00:00:00.000Z"}
    assert decode_event(Stream.EVENTS, old).sent_at == datetime(1970, 1, 1, tzinfo=UTC)  # type: ignore[attr-defined]
