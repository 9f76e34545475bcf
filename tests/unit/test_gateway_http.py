"""The gateway's HTTP behaviour with an in-memory sink: envelopes, limits, per-item batch errors, 503s.

The real-broker behaviour (acknowledgements, outages) is covered in tests/integration/test_gateway_kafka.py.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ingest_gateway.partitioner import partition_of
from ingest_gateway.settings import GatewaySettings
from schemas.messages import unpack_batch
from schemas.topics import Stream
from tests.support.examples import example
from tests.support.gateway import RecordingSink, gateway_client

EVENT = example(Stream.EVENTS, "valid_minimal_page_view.json")


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
async def client(sink: RecordingSink) -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(gateway_max_body_bytes=64 * 1024, gateway_max_batch_events=50)
    async with gateway_client(sink, settings) as http:
        yield http


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


async def test_single_event_success_envelope_and_request_id_echo(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    response = await client.post("/analytics/events", json=EVENT, headers={"X-Request-ID": "req_abc-123"})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["metadata"]["request_id"] == "req_abc-123"
    assert response.headers["x-request-id"] == "req_abc-123"
    assert isinstance(body["metadata"]["processing_time"], int)
    assert body["metadata"]["timestamp"].endswith("Z")
    (message,) = sink.messages()
    assert message["id"] == body["data"]["event_id"]
    assert sink.records[0][0] == "analytics.events"
    assert sink.records[0][1] == partition_of(b"default:user_123", 3)
    assert sink.records[0][2] == b"default:user_123"


async def test_request_id_is_generated_when_absent_or_unsafe(client: httpx.AsyncClient) -> None:
    generated = await client.post("/analytics/events", json=EVENT)
    assert generated.headers["x-request-id"].startswith("req_")
    unsafe = await client.post("/analytics/events", json=EVENT, headers={"X-Request-ID": "a b\tc"})
    assert unsafe.headers["x-request-id"].startswith("req_")


async def test_each_stream_routes_to_its_topic(client: httpx.AsyncClient, sink: RecordingSink) -> None:
    for path, stream, name in [
        ("/analytics/performance", Stream.PERFORMANCE, "valid_seed_web_vitals.json"),
        ("/analytics/usage", Stream.USAGE, "valid_seed_daily_usage.json"),
        ("/analytics/activities", Stream.ACTIVITIES, "valid_seed_project_created.json"),
    ]:
        response = await client.post(path, json=example(stream, name))
        assert response.status_code == 200, response.text
    assert [topic for topic, _, _, _ in sink.records] == [
        "analytics.performance",
        "analytics.usage",
        "analytics.activities",
    ]


async def test_batch_accepts_valid_items_and_reports_each_invalid_one(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    events = [dict(EVENT, user_id=f"user_{i}") for i in range(10)]
    events[2]["event_type"] = "bogus"
    events[5] = "not an object"
    del events[7]["platform"]
    response = await client.post("/analytics/events/batch", json={"events": events})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["processed_count"], data["failed_count"]) == (7, 3)
    assert [(e["index"], e["field"]) for e in data["errors"]] == [
        (2, "event_type"),
        (5, "events.5"),
        (7, "platform"),
    ]
    assert all(e["reason"] for e in data["errors"])
    by_id = {m["id"]: m["user_id"] for m in sink.messages()}
    assert sorted(by_id.values()) == sorted(f"user_{i}" for i in (0, 1, 3, 4, 6, 8, 9))
    assert [by_id[event_id] for event_id in data["event_ids"]] == [f"user_{i}" for i in (0, 1, 3, 4, 6, 8, 9)]


async def test_batch_of_only_invalid_items_is_422_with_every_error(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    response = await client.post("/analytics/events/batch", json={"events": [{"x": 1}, {"y": 2}]})
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert {d["index"] for d in error["details"]} == {0, 1}
    assert sink.records == []


async def test_batch_over_the_event_limit_is_413(client: httpx.AsyncClient, sink: RecordingSink) -> None:
    response = await client.post("/analytics/events/batch", json={"events": [EVENT] * 51})
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert sink.records == []


async def test_schema_errors_are_422_listing_every_failing_field(client: httpx.AsyncClient) -> None:
    body = dict(EVENT, event_type="nope", source="fax")
    del body["session_id"]
    error = assert_error(await client.post("/analytics/events", json=body), 422, "VALIDATION_ERROR")
    assert sorted(d["field"] for d in error["details"]) == ["event_type", "session_id", "source"]


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b"[1, 2", b"[" * 5000 + b"]" * 5000])
async def test_malformed_json_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(
        "/analytics/events", content=raw, headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "VALIDATION_ERROR")


async def test_json_that_is_not_an_object_is_422(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/analytics/events", json=[1, 2]), 422, "VALIDATION_ERROR")


async def test_deeply_nested_properties_are_422(client: httpx.AsyncClient) -> None:
    nested: Any = "leaf"
    for _ in range(50):
        nested = {"k": nested}
    error = assert_error(
        await client.post("/analytics/events", json=dict(EVENT, properties=nested)), 422, "VALIDATION_ERROR"
    )
    assert error["details"][0]["field"] == "properties"


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    body = json.dumps({"events": [dict(EVENT, event_name="x" * 200)] * 400}).encode()
    assert len(body) > 64 * 1024
    response = await client.post("/analytics/events/batch", content=body)
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


async def test_gzip_body_is_accepted(client: httpx.AsyncClient, sink: RecordingSink) -> None:
    body = gzip.compress(json.dumps({"events": [EVENT] * 5}).encode())
    response = await client.post(
        "/analytics/events/batch", content=body, headers={"content-encoding": "gzip"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["processed_count"] == 5
    assert len(sink.messages()) == 5


async def test_gzip_bomb_is_413_after_inflating_only_up_to_the_cap(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    bomb = gzip.compress(b'{"events": [' + b" " * (50 * 1024 * 1024) + b"]}")
    assert len(bomb) < 100 * 1024
    response = await client.post(
        "/analytics/events/batch", content=bomb, headers={"content-encoding": "gzip"}
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert sink.records == []


async def test_corrupt_or_truncated_gzip_is_400(client: httpx.AsyncClient) -> None:
    good = gzip.compress(json.dumps(EVENT).encode())
    for body in (b"not gzip at all", good[: len(good) // 2]):
        response = await client.post("/analytics/events", content=body, headers={"content-encoding": "gzip"})
        assert_error(response, 400, "VALIDATION_ERROR")


async def test_unknown_content_encoding_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post("/analytics/events", content=b"{}", headers={"content-encoding": "br"})
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


async def test_unavailable_sink_is_503_with_retry_after_and_nothing_accepted(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    sink.available = False
    response = await client.post("/analytics/events/batch", json={"events": [EVENT] * 3})
    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert int(response.headers["retry-after"]) > 0
    assert "processed_count" not in response.text
    ready = await client.get("/readyz")
    assert ready.status_code == 503


async def test_idempotency_key_gives_the_same_ids_on_retry(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    batch = {"events": [EVENT, dict(EVENT, event_name="second")]}
    headers = {"Idempotency-Key": "upload-42"}
    first = (await client.post("/analytics/events/batch", json=batch, headers=headers)).json()["data"][
        "event_ids"
    ]
    again = (await client.post("/analytics/events/batch", json=batch, headers=headers)).json()["data"][
        "event_ids"
    ]
    other = (await client.post("/analytics/events/batch", json=batch)).json()["data"]["event_ids"]
    assert first == again
    assert len(set(first)) == 2
    assert not set(first) & set(other)


async def test_unknown_route_and_method_use_the_error_envelope(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/analytics/nothing-here"), 404, "NOT_FOUND")
    assert_error(await client.get("/analytics/events/batch"), 405, "METHOD_NOT_ALLOWED")


async def test_health_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200
    await client.post("/analytics/events", json=EVENT)
    await client.post("/analytics/events", json={"bad": True})
    text = (await client.get("/metrics")).text
    assert 'analytics_gateway_events_accepted_total{stream="events"} 1.0' in text
    assert 'analytics_gateway_events_rejected_total{reason="missing",stream="events"} 1.0' in text
    assert 'analytics_gateway_http_requests_total{route="/analytics/events",status="200"} 1.0' in text
    assert 'analytics_gateway_http_requests_total{route="/analytics/events",status="422"} 1.0' in text
    assert "analytics_gateway_produce_duration_seconds_bucket" in text
    assert "analytics_gateway_http_requests_in_flight" in text


async def test_openapi_documents_every_ingestion_body(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path in (
        "/analytics/events",
        "/analytics/events/batch",
        "/analytics/performance",
        "/analytics/usage",
        "/analytics/activities",
    ):
        ref = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema = spec["components"]["schemas"][ref.removeprefix("#/components/schemas/")]
        assert schema["properties"], path


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "text/plain;charset=UTF-8", "TEXT/PLAIN", None],
)
async def test_json_text_and_untyped_bodies_are_accepted(
    client: httpx.AsyncClient, sink: RecordingSink, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = await client.post("/analytics/events", content=json.dumps(EVENT).encode(), headers=headers)
    assert response.status_code == 200, response.text
    assert [m["event_name"] for m in sink.messages()] == [EVENT["event_name"]]


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"],
)
async def test_other_media_types_are_415_naming_the_header(
    client: httpx.AsyncClient, sink: RecordingSink, content_type: str
) -> None:
    response = await client.post(
        "/analytics/events", content=json.dumps(EVENT).encode(), headers={"content-type": content_type}
    )
    error = assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert [(d["field"], d["type"]) for d in error["details"]] == [("Content-Type", "unsupported_media_type")]
    assert sink.records == []


async def test_every_error_carries_a_list_of_details(client: httpx.AsyncClient) -> None:
    malformed = assert_error(
        await client.post(
            "/analytics/events", content=b"{oops", headers={"content-type": "application/json"}
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert [(d["field"], d["type"]) for d in malformed["details"]] == [("(body)", "json_invalid")]
    missing = assert_error(await client.get("/analytics/nothing-here"), 404, "NOT_FOUND")
    assert missing["details"] == []


async def test_events_are_grouped_into_one_message_per_partition(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    events = [dict(EVENT, user_id=f"user_{i % 7}") for i in range(40)]
    response = await client.post("/analytics/events/batch", json={"events": events})
    assert response.status_code == 200
    assert len(sink.records) == len({partition_of(f"default:user_{i}".encode(), 3) for i in range(7)})
    for _, partition, key, value in sink.records:
        users = {event["user_id"] for event in unpack_batch(value)}
        assert all(partition_of(f"default:{user}".encode(), 3) == partition for user in users)
        assert key == (f"default:{users.pop()}".encode() if len(users) == 1 else b"default:*")
    single_user = await client.post("/analytics/events/batch", json={"events": [EVENT] * 10})
    assert single_user.status_code == 200
    assert sink.records[-1][2] == b"default:user_123"
    assert len(unpack_batch(sink.records[-1][3])) == 10
