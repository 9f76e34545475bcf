"""Through HTTP, what needs the body reader's exact numbers (``schemas.json_limits.loads_exact``) and the
routes' ``warnings``: numbers that would change are refused per event on the single and batch routes, and
clamped times are reported in the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from ingest_gateway.settings import GatewaySettings
from schemas.topics import Stream
from tests.support.examples import example
from tests.support.gateway import RecordingSink, gateway_client, iso, retention_directory

EVENT = example(Stream.EVENTS, "valid_minimal_page_view.json")
JSON = {"content-type": "application/json"}


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
async def client(sink: RecordingSink) -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(gateway_max_batch_events=50)
    async with gateway_client(sink, settings, retention_directory()) as http:
        yield http


def with_number(user: str, literal: bytes) -> bytes:
    return orjson.dumps({**EVENT, "user_id": user, "properties": {}}).replace(
        b'"properties":{}', b'"properties":{"n":' + literal + b"}"
    )


@pytest.mark.parametrize("literal", [b"18446744073709551616", b"-9223372036854775809", b"1e-400"])
async def test_numbers_that_would_change_are_refused_on_the_single_route(
    client: httpx.AsyncClient, sink: RecordingSink, literal: bytes
) -> None:
    response = await client.post("/analytics/events", content=with_number("u", literal), headers=JSON)
    assert response.status_code == 422, response.text
    (detail,) = response.json()["error"]["details"]
    assert (detail["field"], detail["type"]) == ("properties", "number_out_of_range")
    assert sink.records == []


async def test_numbers_that_would_change_are_refused_per_event_in_a_batch(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    items = [with_number("max", b"18446744073709551615"), with_number("big", b"18446744073709551616"),
             with_number("tiny", b"1e-400"), with_number("min", b"-9223372036854775808")]  # fmt: skip
    response = await client.post(
        "/analytics/events/batch", content=b'{"events":[' + b",".join(items) + b"]}", headers=JSON
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [(e["index"], e["type"]) for e in data["errors"]] == [
        (1, "number_out_of_range"),
        (2, "number_out_of_range"),
    ]
    stored = {m["user_id"]: m["properties"]["n"] for m in sink.messages()}
    assert stored == {"max": 18446744073709551615, "min": -9223372036854775808}


async def test_clamped_times_are_reported_in_both_answers(client: httpx.AsyncClient) -> None:
    ahead = {**EVENT, "timestamp": iso(datetime.now(UTC) + timedelta(days=2))}
    single = (await client.post("/analytics/events", json=ahead)).json()["data"]
    assert [(w["field"], w["type"]) for w in single["warnings"]] == [("timestamp", "timestamp_clamped")]
    assert (await client.post("/analytics/events", json=EVENT)).json()["data"]["warnings"] == []
    batch = (await client.post("/analytics/events/batch", json={"events": [EVENT, ahead]})).json()["data"]
    assert [(w["index"], w["type"]) for w in batch["warnings"]] == [(1, "timestamp_clamped")]
    assert batch["processed_count"] == 2 and batch["errors"] == []
