"""Authentication, role rules and tenant isolation over every route of the product, on the embedded app
(gateway and query API on one port, storing into ClickHouse): the routes are enumerated from the OpenAPI
schema, so a route added later is covered without touching this file."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from ingest_gateway.settings import GatewaySettings
from schemas.lms_envelope import is_lms_path
from schemas.topics import Stream
from security.api_key_store import create_key, revoke_key
from tests.conftest import ClickHouseTarget
from tests.support.asgi import served
from tests.support.auth import bearer
from tests.support.dev_app import dev_app
from tests.support.examples import example
from tests.support.recent_examples import recent

pytestmark = pytest.mark.clickhouse

PUBLIC = {"/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
ACME, GLOBEX = "acme", "globex"
SECRET_MARK = "acmesecret"
"""Every value tenant ``acme`` sends carries this mark; no answer to another tenant may contain it."""


@dataclass(frozen=True)
class Key:
    key_id: str
    tenant_id: str


class Keys:
    """Stands in for the API-key directory: one valid ingestion key of tenant acme."""

    async def authenticate(self, presented: str) -> Key | None:
        return Key("k1", ACME) if presented == "ak_k1_good" else None


@dataclass
class Product:
    app: FastAPI
    http: httpx.AsyncClient

    def routes(self) -> list[tuple[str, str]]:
        """(method, path) of every documented route but the learning platform's reads, whose credentials,
        roles and envelope ``tests/integration/test_lms_api.py`` checks route by route."""
        paths: dict[str, dict[str, Any]] = self.app.openapi()["paths"]
        return sorted(
            (method.upper(), path) for path, ops in paths.items() for method in ops if not is_lms_path(path)
        )


@pytest_asyncio.fixture
async def product(shared_clickhouse: ClickHouseTarget) -> AsyncIterator[Product]:
    """An app of the test's own on the module's migrated database, emptied before the test (what the test
    before stored, audited or deleted is gone), with acme's data sent and found stored."""
    app = dev_app(shared_clickhouse)
    app.state.api_keys = Keys()
    async with served(app, "http://product") as http:
        await _send_acme_data(http)
        _assert_acme_data_stored(shared_clickhouse)
        yield Product(app, http)


async def _send_acme_data(http: httpx.AsyncClient) -> None:
    service = bearer("acme-backend", ACME, ["service"])
    event = example(Stream.EVENTS, "valid_seed_button_click.json")
    for user in ("alice", "bob"):
        marked = {
            **event,
            "user_id": user,
            "id": str(uuid.uuid4()),
            "event_name": f"{SECRET_MARK}_click",
            "properties": {"page": f"/{SECRET_MARK}/pricing"},
        }
        page_view = {**marked, "id": str(uuid.uuid4()), "event_name": "page_view"}
        response = await http.post(
            "/analytics/events/batch", json={"events": [marked, page_view]}, headers=service
        )
        assert response.status_code == 200, response.text
        vitals = {**recent(example(Stream.PERFORMANCE, "valid_with_page.json")), "user_id": user}
        vitals["page"] = f"/{SECRET_MARK}/pricing"
        assert (await http.post("/analytics/performance", json=vitals, headers=service)).status_code == 200
        activity = {**recent(example(Stream.ACTIVITIES, "valid_critical_error.json")), "user_id": user}
        activity["activity_type"] = activity.get("activity_type", "error")
        activity["description"] = f"{SECRET_MARK} failure"
        assert (await http.post("/analytics/activities", json=activity, headers=service)).status_code == 200


ACME_ROWS = {"analytics_events": 4, "performance_metrics": 2, "activity_logs": 2}
"""What :func:`_send_acme_data` stores: a click and a page view, vitals and an activity, of alice and bob."""


def _assert_acme_data_stored(clickhouse: ClickHouseTarget) -> None:
    """The database is shared by the module's tests: a row an insert of this test lost to one of an earlier
    test (a repeated deduplication token) would go unnoticed by the reads that find no acme data."""
    client = clickhouse.client()
    try:
        stored = {
            table: client.query(
                f"SELECT count() FROM {table} WHERE tenant_id = {{tenant:String}}",
                parameters={"tenant": ACME},
            ).result_rows[0][0]
            for table in ACME_ROWS
        }
    finally:
        client.close()
    assert stored == ACME_ROWS


def _url(path: str, user: str) -> str:
    unknown_job = "00000000-0000-4000-8000-000000000000"  # a privacy job id no tenant has
    filled = path.replace("{user_id}", user).replace("{job_id}", unknown_job)
    assert "{" not in filled, f"a path parameter this test does not know: {path}"
    return filled


def _body(method: str, path: str, user: str) -> dict[str, Any] | None:
    if method == "PUT":
        return {"tracking": {"enabled": True}}
    if path.startswith("/api/learning/"):  # the LMS back end posts for its users: no user of its own
        stream = {
            "entities": Stream.LMS_ENTITIES,
            "activity": Stream.LMS_ACTIVITY,
            "telemetry": Stream.LMS_TELEMETRY,
        }[path.split("/")[3]]
        lms_item = recent(example(stream, sorted_valid(stream)))
        lms_item.pop("id", None)
        return {"events": [lms_item]} if path.endswith("/batch") else lms_item
    if method == "POST":
        stream = {
            "/analytics/events": Stream.EVENTS,
            "/analytics/events/batch": Stream.EVENTS,
            "/analytics/performance": Stream.PERFORMANCE,
            "/analytics/usage": Stream.USAGE,
            "/analytics/activities": Stream.ACTIVITIES,
        }[path]
        item = {**recent(example(stream, sorted_valid(stream))), "user_id": user}
        item.pop("id", None)
        return {"events": [item]} if path.endswith("/batch") else item
    return None


def sorted_valid(stream: Stream) -> str:
    from tests.support.examples import examples

    return examples(stream, "valid")[0][0]


REQUIRED_QUERY = {"metric": "session_count"}
"""Values of required query parameters (a route with another one fails here until it is added)."""


def _query(product: Product, method: str, path: str) -> dict[str, str]:
    operation = product.app.openapi()["paths"][path][method.lower()]
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query" and p.get("required")]
    return {name: REQUIRED_QUERY[name] for name in names}


async def _call(
    product: Product, method: str, path: str, user: str, headers: dict[str, str]
) -> httpx.Response:
    return await product.http.request(
        method,
        _url(path, user),
        params=_query(product, method, path),
        json=_body(method, path, user),
        headers=headers,
    )


async def test_every_route_but_health_and_docs_requires_a_credential(product: Product) -> None:
    routes = product.routes()
    assert len([r for r in routes if r[1] not in PUBLIC]) >= 17
    for method, path in routes:
        if path in PUBLIC:
            continue
        for headers, reason in (
            ({}, "authentication required"),
            ({"authorization": "Bearer nonsense"}, "invalid token"),
            ({"authorization": "Basic dXNlcjpwYXNz"}, "expected 'Authorization: Bearer <token>'"),
            ({"x-api-key": "ak_k1_wrong"}, "unknown or revoked API key"),
        ):
            response = await _call(product, method, path, "alice", headers)
            assert response.status_code == 401, (method, path, response.text)
            error = response.json()["error"]
            assert (error["code"], error["message"]) == ("UNAUTHORIZED", reason), (method, path)
            assert response.headers["www-authenticate"].startswith("Bearer")
    for path in ("/healthz", "/metrics", "/openapi.json"):
        assert (await product.http.get(path)).status_code == 200


def _expected(method: str, path: str, roles: tuple[str, ...], own: bool, api_key: bool) -> int:
    """The status the role rules promise (200 or 403; 202 for an accepted deletion, 404 for the unknown
    privacy job of ``_url``) for one route."""
    if api_key:
        return 200 if method == "POST" else 403
    privileged = bool({"admin", "service"} & set(roles))
    if path.startswith("/analytics/privacy/"):  # GDPR export and deletion: admins and services only
        if not privileged:
            return 403
        return 202 if method == "DELETE" else 404 if "{job_id}" in path else 200
    if path == "/analytics/audit":
        return 200 if "admin" in roles else 403
    if path.startswith("/api/learning/"):  # an LMS back end's intake: not for end users
        return 200 if privileged else 403
    if method == "POST":
        return 200 if roles else 403
    if path == "/analytics/events":  # end users get their own listing; the user_id filter is "other"
        return 200 if privileged or (roles and own) else 403
    if method == "PUT":
        return 200 if "admin" in roles or (roles and own and not privileged) else 403
    return 200 if privileged or (roles and own) else 403


ROLE_CASES = [
    (("admin",), True),
    (("admin",), False),
    (("service",), False),
    (("user",), True),
    (("user",), False),
    (("student",), False),
    (("teacher",), True),
    ((), True),
]


@pytest.mark.parametrize(("roles", "own"), ROLE_CASES)
async def test_role_rules_on_every_route(product: Product, roles: tuple[str, ...], own: bool) -> None:
    headers = bearer("alice", ACME, roles)
    target = "alice" if own else "bob"
    for method, path in product.routes():
        if path in PUBLIC:
            continue
        response = await _call(product, method, path, target, headers)
        if path == "/analytics/events" and method == "GET":
            response = await product.http.get(path, params={"user_id": target}, headers=headers)
        expected = _expected(method, path, roles, own, api_key=False)
        assert response.status_code == expected, (roles, own, method, path, response.text)
        if expected == 403:
            assert response.json()["error"]["code"] == "FORBIDDEN"


async def test_an_ingestion_key_writes_but_never_reads(product: Product) -> None:
    headers = {"x-api-key": "ak_k1_good"}
    for method, path in product.routes():
        if path in PUBLIC:
            continue
        response = await _call(product, method, path, "alice", headers)
        assert response.status_code == _expected(method, path, (), True, api_key=True), (method, path)


async def test_end_users_events_are_stamped_with_their_own_id(product: Product) -> None:
    alice = bearer("alice", ACME, ["user"])
    event = {
        **example(Stream.EVENTS, "valid_minimal_page_view.json"),
        "user_id": "bob",
        "session_id": "s-stamp",
    }
    event.pop("id", None)
    sent = await product.http.post("/analytics/events", json=event, headers=alice)
    assert sent.status_code == 200
    admin = bearer("root", ACME, ["admin"])
    for user, count in (("alice", 1), ("bob", 0)):
        listing = await product.http.get("/analytics/events", params={"user_id": user}, headers=admin)
        sessions = [e["session_id"] for e in listing.json()["data"]]
        assert sessions.count("s-stamp") == count, (user, sessions)


async def test_another_tenant_never_reads_a_byte_of_acme(product: Product) -> None:
    acme_admin = bearer("acme-root", ACME, ["admin"])
    globex_admin = bearer("globex-root", GLOBEX, ["admin"])
    reads = [(m, p) for m, p in product.routes() if m == "GET" and p not in PUBLIC]
    seen_by_acme = 0
    for _, path in reads:
        for user in ("alice", "bob"):
            theirs = await _call(product, "GET", path, user, globex_admin)
            assert theirs.status_code == (404 if "{job_id}" in path else 200), (path, theirs.text)
            assert SECRET_MARK not in theirs.text, (path, user)
            assert "acme-" not in theirs.text, (path, user)  # not even acme's audit entries
            if path == "/analytics/audit":
                continue
            numbers = [
                float(n)
                for n in re.findall(r'"(?:total_events|count|total|views)":\s*([0-9.]+)', theirs.text)
            ]
            assert all(n == 0 for n in numbers), (path, numbers)
            ours = await _call(product, "GET", path, user, acme_admin)
            seen_by_acme += SECRET_MARK in ours.text
    assert seen_by_acme >= 4  # the data is there: acme's own reads show it
    # globex changing "alice"'s preferences changes its own alice, not acme's
    opted_out = {"tracking": {"enabled": False}}
    assert (
        await product.http.put("/analytics/config/alice", json=opted_out, headers=globex_admin)
    ).status_code == 200
    acme_view = (await product.http.get("/analytics/config/alice", headers=acme_admin)).json()["data"]
    assert acme_view["tracking"]["enabled"] is True


async def test_an_api_key_from_the_cli_store_stamps_its_tenant_and_stops_when_revoked(
    shared_clickhouse: ClickHouseTarget,
) -> None:
    app = dev_app(shared_clickhouse, GatewaySettings(gateway_api_key_refresh_s=0.2))
    admin = shared_clickhouse.client()
    info, plaintext = create_key(admin, ACME, "backend")
    event = {**example(Stream.EVENTS, "valid_minimal_page_view.json"), "session_id": "s-key"}
    event.pop("id", None)
    async with served(app, "http://product") as http:
        sent = await http.post("/analytics/events", json=event, headers={"x-api-key": plaintext})
        assert sent.status_code == 200, sent.text
        listing = await http.get("/analytics/events", headers=bearer("root", ACME, ["admin"]))
        assert [e["session_id"] for e in listing.json()["data"]] == ["s-key"]
        assert revoke_key(admin, info.key_id)
        await asyncio.sleep(1.0)  # five refresh intervals
        refused = await http.post("/analytics/events", json=event, headers={"x-api-key": plaintext})
        assert refused.status_code == 401
        assert refused.json()["error"]["message"] == "unknown or revoked API key"
    admin.close()


async def test_reads_of_other_users_and_refusals_are_audited_for_admins(product: Product) -> None:
    support = bearer("support-7", ACME, ["admin"])
    alice = bearer("alice", ACME, ["user"])
    assert (await product.http.get("/analytics/dashboard/bob", headers=support)).status_code == 200
    assert (await product.http.get("/analytics/dashboard/alice", headers=alice)).status_code == 200  # own
    denied = await product.http.get("/analytics/performance/bob", headers=alice)
    assert denied.status_code == 403
    assert (await product.http.get("/analytics/audit", headers=alice)).status_code == 403
    log = await product.http.get("/analytics/audit", params={"limit": 100}, headers=support)
    assert log.status_code == 200, log.text
    entries = log.json()["data"]
    mine = [(e["actor"], e["action"], e["target_user"], e["resource"], e["outcome"]) for e in entries]
    assert ("support-7", "read_user", "bob", "/analytics/dashboard/bob", "allowed") in mine
    assert ("alice", "read_user", "bob", "/analytics/performance/bob", "denied") in mine
    assert ("alice", "read_audit", "", "/analytics/audit", "denied") in mine
    assert not any(e["actor"] == "alice" and e["target_user"] == "alice" for e in entries)  # own reads
    refused = next(e for e in entries if e["resource"] == "/analytics/performance/bob")
    assert refused["detail"] == "this role may only access its own data"
    assert refused["request_id"] == denied.headers["x-request-id"]
    settings = {"tenant": {"ip_handling": "truncate"}}
    assert (
        await product.http.put("/analytics/config/support-7", json=settings, headers=support)
    ).status_code == 200
    log = await product.http.get("/analytics/audit", params={"actor": "support-7"}, headers=support)
    actions = [(e["action"], e["outcome"]) for e in log.json()["data"]]
    assert ("write_tenant_settings", "allowed") in actions
    only_bob = await product.http.get("/analytics/audit", params={"user_id": "bob"}, headers=support)
    assert {e["target_user"] for e in only_bob.json()["data"]} == {"bob"}


async def test_an_audited_read_is_written_within_the_flush_interval_without_being_asked_for(
    product: Product, shared_clickhouse: ClickHouseTarget
) -> None:
    """Not only when the audit log is read or the service stops: a crash must not lose more than a
    flush interval of entries (a per-user read's entry once sat in memory until shutdown)."""
    support = bearer("support-9", ACME, ["admin"])
    assert (await product.http.get("/analytics/dashboard/bob", headers=support)).status_code == 200
    client = shared_clickhouse.client()
    try:
        rows: Sequence[Sequence[Any]] = []
        for _ in range(40):  # the writer flushes every second
            await asyncio.sleep(0.1)
            rows = client.query(
                "SELECT action, target_user, resource FROM audit_log WHERE actor = 'support-9'"
            ).result_rows
            if rows:
                break
        assert [tuple(r) for r in rows] == [("read_user", "bob", "/analytics/dashboard/bob")]
    finally:
        client.close()
