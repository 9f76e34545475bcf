"""The event-time policy and exact numbers through the gateway's HTTP routes (in-memory sink): out-of-range
times and dates and events beyond the tenant's raw retention answer 422 with their own type and code, a
batch stores its other events, clamped times are reported, numbers that would change are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from ingest_gateway.intake import Intake
from ingest_gateway.metrics import GatewayMetrics
from ingest_gateway.settings import GatewaySettings
from schemas.json_limits import loads_exact
from schemas.topics import Stream
from tests.support.auth import TENANT
from tests.support.examples import example
from tests.support.gateway import RAW_DAYS, RecordingSink, gateway_client, iso, retention_directory

EVENT = example(Stream.EVENTS, "valid_minimal_page_view.json")
USAGE = example(Stream.USAGE, "valid_minimal.json")


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
async def client(sink: RecordingSink) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway_client(
        sink, GatewaySettings(gateway_max_batch_events=50), retention_directory()
    ) as http:
        yield http


def now() -> datetime:
    return datetime.now(UTC)


def refused(response: httpx.Response, code: str) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    details: list[dict[str, Any]] = error["details"]
    return details


OUT_OF_RANGE_BODIES = [
    ("/analytics/events", {**EVENT, "timestamp": "1969-12-31T23:59:59Z"}, "timestamp"),
    ("/analytics/events", {**EVENT, "timestamp": "0002-01-01T12:02:08Z"}, "timestamp"),
    ("/analytics/events", {**EVENT, "timestamp": "1970-01-04T00:00:00Z"}, "timestamp"),
    ("/analytics/events", {**EVENT, "timestamp": "1970-12-31T23:59:59.999Z"}, "timestamp"),
    ("/analytics/events", {**EVENT, "timestamp": "2090-01-01T00:00:00Z"}, "timestamp"),
    ("/analytics/events", {**EVENT, "sent_at": "9999-12-31T23:59:59Z"}, "sent_at"),
    ("/analytics/usage", {**USAGE, "date": "1969-12-31"}, "date"),
    (
        "/analytics/activities",
        {
            **example(Stream.ACTIVITIES, "valid_seed_project_created.json"),
            "timestamp": "1970-01-01T00:00:00Z",
        },
        "timestamp",
    ),
]


@pytest.mark.parametrize(("path", "body", "field"), OUT_OF_RANGE_BODIES)
async def test_each_out_of_range_time_is_refused_naming_the_bounds(
    client: httpx.AsyncClient, sink: RecordingSink, path: str, body: dict[str, Any], field: str
) -> None:
    if field == "sent_at":  # the 500: timestamp=now with sent_at=9999-12-31
        body = {**body, "timestamp": iso(now())}
    (detail,) = refused(await client.post(path, json=body), "TIMESTAMP_OUT_OF_RANGE")
    assert (detail["field"], detail["type"]) == (field, "timestamp_out_of_range")
    assert "1971-01-01" in detail["reason"] and "2090-01-01" in detail["reason"]
    assert sink.records == []


async def test_a_skew_correction_out_of_the_range_is_refused(client: httpx.AsyncClient) -> None:
    fast_clock = now() + timedelta(days=3)  # sent_at says three days ahead: every time moves 3 days back
    body = {**EVENT, "timestamp": "1971-01-02T00:00:00Z", "sent_at": iso(fast_clock)}
    (detail,) = refused(await client.post("/analytics/events", json=body), "TIMESTAMP_OUT_OF_RANGE")
    assert detail["field"] == "timestamp" and "clock skew" in detail["reason"]


async def test_numbers_as_times_are_refused(client: httpx.AsyncClient) -> None:
    for body in ({**EVENT, "sent_at": 0}, {**EVENT, "timestamp": 1_700_000_000}, {**USAGE, "date": 0}):
        path = "/analytics/usage" if "date" in body else "/analytics/events"
        (detail,) = refused(await client.post(path, json=body), "VALIDATION_ERROR")
        assert detail["type"] in ("datetime_type", "date_type") and "ISO-8601" in detail["reason"]


async def test_a_batch_stores_its_good_events_and_reports_each_refused_one(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    old = now() - timedelta(days=RAW_DAYS + 1)
    events = [
        {**EVENT, "user_id": "good-0"},
        {**EVENT, "user_id": "epoch", "timestamp": "1970-01-01T00:00:00Z"},
        {**EVENT, "user_id": "good-2", "timestamp": iso(now() - timedelta(days=RAW_DAYS - 1))},
        {**EVENT, "user_id": "skewed", "timestamp": iso(now()), "sent_at": "9999-12-31T23:59:59Z"},
        {**EVENT, "user_id": "old", "timestamp": iso(old)},
        {**EVENT, "user_id": "unix", "sent_at": 0},
    ]
    response = await client.post("/analytics/events/batch", json={"events": events})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["processed_count"], data["failed_count"]) == (2, 4)
    assert [(e["index"], e["field"], e["type"]) for e in data["errors"]] == [
        (1, "timestamp", "timestamp_out_of_range"),
        (3, "sent_at", "timestamp_out_of_range"),
        (4, "timestamp", "beyond_retention"),
        (5, "sent_at", "datetime_type"),
    ]
    assert sorted(m["user_id"] for m in sink.messages()) == ["good-0", "good-2"]
    assert sorted(m["id"] for m in sink.messages()) == sorted(data["event_ids"])


async def test_a_batch_refused_only_for_its_times_answers_their_code(client: httpx.AsyncClient) -> None:
    epoch = {**EVENT, "timestamp": "1970-01-01T00:00:00Z"}
    refused(
        await client.post("/analytics/events/batch", json={"events": [epoch, epoch]}),
        "TIMESTAMP_OUT_OF_RANGE",
    )
    mixed = [epoch, {**EVENT, "event_type": "nope"}]
    refused(await client.post("/analytics/events/batch", json={"events": mixed}), "VALIDATION_ERROR")


async def test_events_beyond_the_tenants_raw_retention_are_refused(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    too_old = {**EVENT, "timestamp": iso(now() - timedelta(days=RAW_DAYS, minutes=1))}
    (detail,) = refused(await client.post("/analytics/events", json=too_old), "BEYOND_RETENTION")
    assert (detail["field"], detail["type"]) == ("timestamp", "beyond_retention")
    assert (
        f"raw retention of {RAW_DAYS} days" in detail["reason"] and "oldest accepted is" in detail["reason"]
    )
    old_day = (now() - timedelta(days=RAW_DAYS + 1)).date().isoformat()
    (usage,) = refused(
        await client.post("/analytics/usage", json={**USAGE, "date": old_day}), "BEYOND_RETENTION"
    )
    assert usage["field"] == "date"
    kept = {**EVENT, "timestamp": iso(now() - timedelta(days=RAW_DAYS - 1))}
    assert (await client.post("/analytics/events", json=kept)).status_code == 200
    assert len(sink.messages()) == 1


async def test_without_a_tenant_directory_only_what_no_tenant_keeps_is_refused(sink: RecordingSink) -> None:
    async with gateway_client(sink, GatewaySettings(gateway_max_batch_events=50)) as http:
        year_old = {**EVENT, "timestamp": iso(now() - timedelta(days=400))}
        assert (await http.post("/analytics/events", json=year_old)).status_code == 200
        decade_old = {**EVENT, "timestamp": iso(now() - timedelta(days=3661))}
        (detail,) = refused(await http.post("/analytics/events", json=decade_old), "BEYOND_RETENTION")
        assert "3660 days" in detail["reason"]


async def test_infinity_refuses_the_body_with_a_clear_400(client: httpx.AsyncClient) -> None:
    raw = orjson.dumps({**EVENT, "properties": {}}).replace(b'"properties":{}', b'"properties":{"x":1e400}')
    response = await client.post(
        "/analytics/events", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "infinity" in response.text


# ---- what needs the routes' and the body reader's part (see the report): the intake's answers ------------


@pytest.fixture
def intake(sink: RecordingSink) -> Intake:
    return Intake(GatewaySettings(), sink, GatewayMetrics(), retention_directory())


async def test_clamped_times_are_accepted_and_reported_per_event(intake: Intake, sink: RecordingSink) -> None:
    ahead = {**EVENT, "timestamp": iso(now() + timedelta(days=2))}
    single = await intake.accept_single(Stream.EVENTS, ahead, TENANT, None)
    assert [(w["field"], w["type"]) for w in single.warnings] == [("timestamp", "timestamp_clamped")]
    assert "stored as" in single.warnings[0]["reason"]
    batch = await intake.accept_batch(Stream.EVENTS, {"events": [EVENT, ahead]}, TENANT, None)
    assert [(w["index"], w["type"]) for w in batch.warnings] == [(1, "timestamp_clamped")]
    tomorrow_plus = (now() + timedelta(days=3)).date().isoformat()
    usage = await intake.accept_single(Stream.USAGE, {**USAGE, "date": tomorrow_plus}, TENANT, None)
    assert [(w["field"], w["type"]) for w in usage.warnings] == [("date", "timestamp_clamped")]
    clamped = [m["time_clamped"] for m in sink.messages()]
    assert clamped == [True, False, True, True]


async def test_numbers_that_would_change_are_refused_per_event(intake: Intake, sink: RecordingSink) -> None:
    raw = b'{"events": [%s, %s, %s]}' % (
        orjson.dumps({**EVENT, "user_id": "fine", "properties": {"n": 18446744073709551615}}),
        orjson.dumps({**EVENT, "user_id": "big", "properties": {}}).replace(
            b'"properties":{}', b'"properties":{"n":18446744073709551616}'
        ),
        orjson.dumps({**EVENT, "user_id": "tiny", "properties": {}}).replace(
            b'"properties":{}', b'"properties":{"n":1e-400}'
        ),
    )
    result = await intake.accept_batch(Stream.EVENTS, loads_exact(raw), TENANT, None)
    assert [(e["index"], e["field"], e["type"]) for e in result.rejected] == [
        (1, "properties", "number_out_of_range"),
        (2, "properties", "number_out_of_range"),
    ]
    (message,) = sink.messages()
    assert (message["user_id"], message["properties"]) == ("fine", {"n": 18446744073709551615})
