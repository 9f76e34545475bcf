"""The learning platform's routes of the gateway (``/api/learning/...``) with an in-memory sink: every
example accepted and published as its message (topic, key, partition, fields) or refused for exactly its
documented fields; partial batches by index; gzip, size limits, 503; the time policy; tenancy and which
credentials may post."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from ingest_gateway.intake import Intake
from ingest_gateway.main import create_app
from ingest_gateway.metrics import GatewayMetrics
from ingest_gateway.partitioner import partition_of
from ingest_gateway.settings import GatewaySettings
from privacy.directory import TenantPrivacyDirectory
from privacy.policy import parse_user_agent, truncate_ip
from schemas.event_time import RawRetention
from schemas.messages import decode_batch
from schemas.tenant_config import IpHandling, UserAgentHandling
from schemas.topics import LMS_STREAMS, Stream
from tests.support.asgi import served
from tests.support.auth import TENANT, bearer
from tests.support.examples import (
    ROUTES,
    all_examples,
    example,
    expected_errors,
    lms_message_fields,
    lms_subject,
    same_value,
)
from tests.support.gateway import RAW_DAYS, RecordingSink, gateway_client, iso
from tests.support.recent_examples import recent

PARTITIONS = 3
MAX_EVENTS = 50
VALID = [(stream, name, recent(body)) for stream, name, body in all_examples("valid", LMS_STREAMS)]
INVALID = all_examples("invalid", LMS_STREAMS)
LOGIN = example(Stream.LMS_ACTIVITY, "valid_login_minimal.json")
ACTIVITY = ROUTES[Stream.LMS_ACTIVITY]
SETTINGS = GatewaySettings(gateway_max_body_bytes=64 * 1024, gateway_max_batch_events=MAX_EVENTS)


def _ids(value: Any) -> str | None:
    return None if isinstance(value, dict) else str(getattr(value, "value", value))


def tenants(
    ip_handling: IpHandling = IpHandling.STORE, user_agents: UserAgentHandling = UserAgentHandling.KEEP
) -> TenantPrivacyDirectory:
    """The test tenant's IP and user-agent handling and a :data:`RAW_DAYS` retention; the refreshes fail,
    so the snapshot stays as set."""

    def down() -> Any:
        raise ConnectionError("ClickHouse is down (test)")

    directory = TenantPrivacyDirectory(down, b"s" * 32, refresh_s=3600)
    directory.use({TENANT: (ip_handling, user_agents)})
    directory.use_retention({TENANT: RawRetention(RAW_DAYS, ZoneInfo("UTC"))})
    return directory


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink(PARTITIONS)


@pytest.fixture
async def client(sink: RecordingSink) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway_client(sink, SETTINGS, tenants()) as http:
        yield http


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error


def published(sink: RecordingSink, stream: Stream) -> list[tuple[bytes, int, dict[str, Any]]]:
    """(key, partition, message) of every event published, each record checked to decode as ``stream``."""
    found: list[tuple[bytes, int, dict[str, Any]]] = []
    for topic, partition, key, value in sink.records:
        assert topic == f"analytics.{stream.value}"
        decoded = decode_batch(stream, value)
        messages = orjson.loads(value)["events"]
        assert [str(event.id) for event in decoded] == [message["id"] for message in messages]
        found.extend((key, partition, message) for message in messages)
    return found


def assert_carries(stream: Stream, body: dict[str, Any], message: dict[str, Any]) -> None:
    for field, value in lms_message_fields(stream, body).items():
        if field == "timestamp" and "sent_at" in body:
            continue  # corrected for the client's clock skew
        assert same_value(value, message[field]), (field, value, message[field])


@pytest.mark.parametrize(("stream", "name", "body"), VALID, ids=_ids)
async def test_a_valid_example_is_accepted_and_published_as_its_message(
    client: httpx.AsyncClient, sink: RecordingSink, stream: Stream, name: str, body: dict[str, Any]
) -> None:
    response = await client.post(ROUTES[stream], json=body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["warnings"] == []
    ((key, partition, message),) = published(sink, stream)
    assert message["id"] == data["event_id"]
    assert key == f"{TENANT}:{lms_subject(stream, body)}".encode()
    assert partition == partition_of(key, PARTITIONS)
    assert message["tenant_id"] == TENANT and message["time_clamped"] is False
    assert_carries(stream, body, message)


async def test_an_invalid_example_is_refused_for_exactly_its_documented_fields(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    for stream, name, body in INVALID:
        error = error_of(await client.post(ROUTES[stream], json=body), 422, "VALIDATION_ERROR")
        fields = sorted({detail["field"] for detail in error["details"]})
        assert fields == sorted(expected_errors(stream)[name]), name
        assert all(detail["reason"] and detail["type"] for detail in error["details"]), name
    assert sink.records == []


@pytest.mark.parametrize("stream", LMS_STREAMS, ids=_ids)
async def test_a_batch_accepts_its_valid_items_and_reports_each_invalid_one_by_index(
    client: httpx.AsyncClient, sink: RecordingSink, stream: Stream
) -> None:
    valid = [body for s, _, body in VALID if s is stream]
    invalid = [(name, body) for s, name, body in INVALID if s is stream][:3]
    items: list[Any] = list(valid)
    positions = [1, 3, len(items) + 2]  # where the invalid items land
    for position, (_, body) in zip(positions, invalid, strict=True):
        items.insert(position, body)
    items.append("not an object")
    response = await client.post(f"{ROUTES[stream]}/batch", json={"events": items})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["processed_count"], data["failed_count"]) == (len(valid), 4)
    refused = {(e["index"], e["field"]) for e in data["errors"]}
    assert refused == {
        (position, field)
        for position, (name, _) in zip(positions, invalid, strict=True)
        for field in expected_errors(stream)[name]
    } | {(len(items) - 1, f"events.{len(items) - 1}")}
    by_id = {message["id"]: message for _, _, message in published(sink, stream)}
    assert list(by_id) != [] and sorted(by_id) == sorted(data["event_ids"])
    for event_id, body in zip(data["event_ids"], valid, strict=True):  # ids in the order of the batch
        assert_carries(stream, body, by_id[event_id])


async def test_a_batch_of_only_invalid_items_is_422_and_publishes_nothing(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    events = [{"type": "login"}, {"type": "nap", "user_type": "student", "user_id": 1}]
    error = error_of(await client.post(f"{ACTIVITY}/batch", json={"events": events}), 422, "VALIDATION_ERROR")
    assert sorted((d["index"], d["field"]) for d in error["details"]) == [
        (0, "user_id"),
        (0, "user_type"),
        (1, "type"),
    ]
    assert sink.records == []


async def test_a_gzip_batch_is_accepted(client: httpx.AsyncClient, sink: RecordingSink) -> None:
    events = [dict(LOGIN, user_id=i) for i in range(1, 11)]
    body = gzip.compress(orjson.dumps({"events": events}))
    response = await client.post(f"{ACTIVITY}/batch", content=body, headers={"content-encoding": "gzip"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["processed_count"] == 10
    messages = published(sink, Stream.LMS_ACTIVITY)
    assert sorted(message["user_id"] for _, _, message in messages) == sorted(
        f"student:{i}" for i in range(1, 11)
    )
    for key, partition, message in messages:  # each partition's record: its one subject, or the tenant's
        subject = f"{TENANT}:{message['user_id']}".encode()
        assert partition == partition_of(subject, PARTITIONS) and key in (subject, f"{TENANT}:*".encode())


async def test_too_large_bodies_and_batches_are_413(client: httpx.AsyncClient, sink: RecordingSink) -> None:
    big = {"events": [dict(LOGIN, properties={"note": "x" * 1000})] * 70}
    error_of(await client.post(f"{ACTIVITY}/batch", json=big), 413, "PAYLOAD_TOO_LARGE")
    many = {"events": [LOGIN] * (MAX_EVENTS + 1)}
    error_of(await client.post(f"{ACTIVITY}/batch", json=many), 413, "PAYLOAD_TOO_LARGE")
    bomb = gzip.compress(b'{"events": [' + b" " * (10 * 1024 * 1024) + b"]}")
    response = await client.post(f"{ACTIVITY}/batch", content=bomb, headers={"content-encoding": "gzip"})
    error_of(response, 413, "PAYLOAD_TOO_LARGE")
    assert sink.records == []


async def test_an_unavailable_sink_is_503_with_retry_after_and_nothing_accepted(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    sink.available = False
    for path, body in ((ACTIVITY, LOGIN), (f"{ACTIVITY}/batch", {"events": [LOGIN] * 3})):
        response = await client.post(path, json=body)
        error_of(response, 503, "SERVICE_UNAVAILABLE")
        assert int(response.headers["retry-after"]) > 0
    assert sink.records == []


async def test_an_activity_beyond_the_tenants_retention_is_refused_an_entity_version_is_not(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    """An entity version is state: however old its timestamp, it may be the entity's newest."""
    old = iso(datetime.now(UTC) - timedelta(days=RAW_DAYS + 1))
    course = {
        **example(Stream.LMS_ENTITIES, "valid_course_with_videos_and_assessments.json"),
        "timestamp": old,
    }
    response = await client.post(ROUTES[Stream.LMS_ENTITIES], json=course)
    assert response.status_code == 200, response.text
    (stored,) = sink.messages()
    assert stored["timestamp"] == old.replace("Z", "+00:00") or stored["timestamp"][:19] == old[:19]
    sink.records.clear()
    events = [LOGIN, {**LOGIN, "timestamp": old}]
    response = await client.post(f"{ACTIVITY}/batch", json={"events": events})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [(e["index"], e["field"], e["type"]) for e in data["errors"]] == [
        (1, "timestamp", "beyond_retention")
    ]
    assert data["processed_count"] == 1 and len(sink.messages()) == 1


async def test_a_time_more_than_a_day_ahead_is_stored_as_received_and_warned(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    ahead = iso(datetime.now(UTC) + timedelta(days=2))
    sample = {**example(Stream.LMS_TELEMETRY, "valid_uptime.json"), "timestamp": ahead}
    response = await client.post(ROUTES[Stream.LMS_TELEMETRY], json=sample)
    assert response.status_code == 200, response.text
    (warning,) = response.json()["data"]["warnings"]
    assert (warning["field"], warning["type"]) == ("timestamp", "timestamp_clamped")
    ((_, _, message),) = published(sink, Stream.LMS_TELEMETRY)
    assert message["time_clamped"] is True and message["timestamp"] == message["received_at"]


async def test_the_tenants_ip_and_user_agent_handling_applies(sink: RecordingSink) -> None:
    body = recent(example(Stream.LMS_ACTIVITY, "valid_login_with_client.json"))
    async with gateway_client(sink, SETTINGS, tenants(IpHandling.TRUNCATE, UserAgentHandling.DROP)) as client:
        response = await client.post(ACTIVITY, json=body)
    assert response.status_code == 200, response.text
    ((_, _, message),) = published(sink, Stream.LMS_ACTIVITY)
    assert message["ip_address"] == truncate_ip(body["ip_address"]) == "203.0.113.0"
    assert message["user_agent"] is None
    assert message["browser"] == parse_user_agent(body["user_agent"]).browser == "Safari"


async def test_an_idempotency_key_gives_a_retried_batch_the_same_ids(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    batch = {"events": [dict(LOGIN, user_id=i) for i in (1, 2)]}
    answers = [
        (await client.post(f"{ACTIVITY}/batch", json=batch, headers={"Idempotency-Key": "k-1"})).json()
        for _ in range(2)
    ]
    assert answers[0]["data"]["event_ids"] == answers[1]["data"]["event_ids"]
    assert all(message["client_keyed"] for message in sink.messages())


NO_ROLE = bearer("nobody", TENANT, [])


class _OneKey:
    """An API-key directory knowing one ingestion key of tenant ``globex``."""

    key_id, tenant_id, secret = "k1", "globex", "ak_test_key"

    async def authenticate(self, presented: str) -> _OneKey | None:
        return self if presented == self.secret else None

    async def run(self) -> None: ...
    async def close(self) -> None: ...


@pytest.mark.parametrize(
    ("headers", "status", "tenant"),
    [
        (bearer("svc", "initech", ["service"]), 200, "initech"),
        (bearer("admin-1", "initech", ["admin"]), 200, "initech"),
        ({"x-api-key": _OneKey.secret}, 200, "globex"),
        (bearer("17", TENANT, ["student"]), 403, None),
        (bearer("7", TENANT, ["teacher"]), 403, None),
        (bearer("u-1", TENANT, ["user"]), 403, None),
        (NO_ROLE, 403, None),
        ({"authorization": "Bearer not-a-token"}, 401, None),
    ],
)
async def test_server_side_credentials_post_for_their_tenant_and_end_users_may_not(
    sink: RecordingSink, headers: dict[str, str], status: int, tenant: str | None
) -> None:
    app = create_app(SETTINGS, sink, api_keys=_OneKey())  # type: ignore[arg-type]
    async with served(app, "http://gateway", headers) as client:
        single = await client.post(ACTIVITY, json=LOGIN)
        batch = await client.post(f"{ACTIVITY}/batch", json={"events": [LOGIN]})
    for response in (single, batch):
        assert response.status_code == status, response.text
    if tenant is None:
        assert sink.records == []
        if status == 403 and headers != NO_ROLE:
            assert "service token" in single.json()["error"]["message"]
        return
    keys = [key for key, _, _ in published(sink, Stream.LMS_ACTIVITY)]
    assert keys == [f"{tenant}:student:17".encode()] * 2
    assert {message["tenant_id"] for message in sink.messages()} == {tenant}


async def test_the_intake_never_stamps_an_lms_event_with_an_end_users_id(sink: RecordingSink) -> None:
    intake = Intake(SETTINGS, sink, GatewayMetrics())
    with pytest.raises(ValueError, match="end user"):
        await intake.accept_single(Stream.LMS_ACTIVITY, LOGIN, TENANT, None, user_id="17")
    with pytest.raises(ValueError, match="end user"):
        await intake.accept_batch(Stream.LMS_ACTIVITY, {"events": [LOGIN]}, TENANT, None, user_id="17")
    assert sink.records == []
