"""Security headers on every answer, the CORS allow-list, and request body limits on both services."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from ingest_gateway.main import create_app as create_gateway
from ingest_gateway.settings import GatewaySettings
from query_api.main import create_app as create_query_api
from query_api.settings import QuerySettings
from schemas.topics import Stream
from security.web import WebSecuritySettings, install_web_security
from tests.conftest import free_port
from tests.support.auth import bearer
from tests.support.examples import example
from tests.support.gateway import RecordingSink


async def test_every_answer_carries_the_security_headers() -> None:
    app = create_gateway(GatewaySettings(), RecordingSink())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            for response in (
                await http.get("/healthz"),
                await http.post("/analytics/events", json={}),  # 401
                await http.post("/analytics/events", json={}, headers=bearer()),  # 422
            ):
                assert response.headers["x-content-type-options"] == "nosniff"
                assert response.headers["x-frame-options"] == "DENY"
                assert response.headers["referrer-policy"] == "no-referrer"
                assert (
                    response.headers["content-security-policy"]
                    == "default-src 'none'; frame-ancestors 'none'"
                )
                assert "strict-transport-security" not in response.headers
            docs = await http.get("/docs")
            assert docs.status_code == 200 and "content-security-policy" not in docs.headers  # Swagger UI
            assert docs.headers["x-content-type-options"] == "nosniff"


async def test_cors_answers_only_allowed_origins() -> None:
    app = create_gateway(GatewaySettings(), RecordingSink())
    browser = WebSecuritySettings(cors_allow_origins=["https://app.example.com"], hsts_max_age_s=3600)
    install_web_security(app, 1_000_000, browser)
    preflight = {"access-control-request-method": "POST", "access-control-request-headers": "authorization"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            allowed = await http.options(
                "/analytics/events", headers={"origin": "https://app.example.com", **preflight}
            )
            assert allowed.status_code == 200
            assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
            assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
            other = await http.options(
                "/analytics/events", headers={"origin": "https://evil.example", **preflight}
            )
            assert "access-control-allow-origin" not in other.headers
            sent = await http.post(
                "/analytics/events",
                json=example(Stream.EVENTS, "valid_minimal_page_view.json"),
                headers={"origin": "https://app.example.com", **bearer()},
            )
            assert sent.status_code == 200
            assert sent.headers["access-control-allow-origin"] == "https://app.example.com"
            assert "x-request-id" in sent.headers["access-control-expose-headers"].lower()
            assert sent.headers["strict-transport-security"] == "max-age=3600; includeSubDomains"


async def test_bodies_over_the_limit_answer_413_in_the_envelope() -> None:
    gateway = create_gateway(GatewaySettings(gateway_max_body_bytes=2048), RecordingSink())
    query = create_query_api(
        QuerySettings(clickhouse_url=f"http://127.0.0.1:{free_port()}", query_max_body_bytes=1024)
    )
    big = {"tracking": {"enabled": True}, "padding": "x" * 4096}
    for app, method, path in ((gateway, "POST", "/analytics/events"), (query, "PUT", "/analytics/config/u1")):
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://svc", headers=bearer()
            ) as http:
                response = await http.request(method, path, json=big)
                assert response.status_code == 413, (path, response.text)
                assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

                async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
                    yield b'{"tracking": {"enabled": true}, "padding": "'
                    for _ in range(8):
                        yield b"x" * 1024
                    yield b'"}'

                streamed = await http.request(
                    method, path, content=chunks(), headers={"content-type": "application/json"}
                )
                assert streamed.status_code == 413, (path, streamed.text)
                assert streamed.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        # the learning platform's routes refuse a declared oversize body in their own envelope, with the id
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=query), base_url="http://svc", headers=bearer()
        ) as http:
            response = await http.request("GET", "/api/admin/analytics/dashboard", content=b"x" * 4096)
            body = response.json()
            assert response.status_code == 413 and body["errorCode"] == "PAYLOAD_TOO_LARGE", body
            assert body["correlationId"] == response.headers["x-request-id"] != ""
    await query.state.query_store.close()
