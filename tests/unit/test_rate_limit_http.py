"""Rate limits on the services: a burst passes, sustained excess gets 429 ``RATE_LIMITED`` with a correct
``Retry-After`` and ``X-RateLimit-*`` headers, nothing of a refused request is published, and limits are
kept per credential and per tenant (a fake clock, so no test sleeps)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from ingest_gateway.main import create_app as create_gateway
from ingest_gateway.settings import GatewaySettings
from query_api.main import create_app as create_query_api
from query_api.settings import QuerySettings
from schemas.topics import Stream
from security.rate_limit import RateLimitSettings
from tests.conftest import free_port
from tests.support.auth import bearer
from tests.support.examples import example
from tests.support.gateway import RecordingSink

EVENT = example(Stream.EVENTS, "valid_minimal_page_view.json")
UNLIMITED = 1e9


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limits(**rates: float) -> RateLimitSettings:
    base: dict[str, float] = {
        name: UNLIMITED for name in RateLimitSettings.model_fields if name.endswith(("_per_s", "_burst"))
    }
    return RateLimitSettings(rate_limits_enabled=True, **{**base, **rates})  # type: ignore[arg-type]


@dataclass
class Gateway:
    http: httpx.AsyncClient
    sink: RecordingSink
    clock: FakeClock


async def gateway_with(settings: RateLimitSettings) -> AsyncIterator[Gateway]:
    clock, sink = FakeClock(), RecordingSink()
    app = create_gateway(
        GatewaySettings(gateway_max_batch_events=50), sink, limiter=settings.gateway_limiter(clock)
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gw") as http,
    ):
        yield Gateway(http, sink, clock)


def assert_limited(response: httpx.Response, retry_after: int, limit: int, remaining: int = 0) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert response.headers["retry-after"] == str(retry_after)
    assert response.headers["x-ratelimit-limit"] == str(limit)
    assert response.headers["x-ratelimit-remaining"] == str(remaining)


@pytest.fixture
async def request_limited() -> AsyncIterator[Gateway]:
    async for gateway in gateway_with(
        limits(gateway_credential_requests_per_s=2, gateway_credential_requests_burst=3)
    ):
        yield gateway


async def test_a_burst_passes_then_excess_waits_exactly_retry_after(request_limited: Gateway) -> None:
    gw, alice = request_limited, bearer("alice-backend", "acme", ["service"])
    for _ in range(3):
        assert (await gw.http.post("/analytics/events", json=EVENT, headers=alice)).status_code == 200
    refused = await gw.http.post("/analytics/events", json=EVENT, headers=alice)
    assert_limited(refused, retry_after=1, limit=3)  # one token comes back in 0.5 s at 2/s
    assert len(gw.sink.messages()) == 3  # the refused request published nothing
    gw.clock.now += 0.49
    assert (await gw.http.post("/analytics/events", json=EVENT, headers=alice)).status_code == 429
    gw.clock.now += 0.01
    assert (await gw.http.post("/analytics/events", json=EVENT, headers=alice)).status_code == 200
    # another credential has its own bucket
    bob = bearer("bob-backend", "acme", ["service"])
    assert (await gw.http.post("/analytics/events", json=EVENT, headers=bob)).status_code == 200


async def test_sustained_load_over_the_rate_is_held_to_the_rate(request_limited: Gateway) -> None:
    gw, alice = request_limited, bearer("alice-backend", "acme", ["service"])
    accepted = 0
    for _ in range(40):  # 10 requests per second for 4 s against a rate of 2/s and a burst of 3
        gw.clock.now += 0.1
        accepted += (await gw.http.post("/analytics/events", json=EVENT, headers=alice)).status_code == 200
    assert accepted == 10  # floor(burst 3 + 2/s over the 3.9 s from the first request to the last)


async def test_events_are_charged_by_batch_size_and_per_tenant() -> None:
    settings = limits(gateway_tenant_events_per_s=100, gateway_tenant_events_burst=120)
    async for gw in gateway_with(settings):
        batch = {"events": [EVENT] * 50}
        web, backend = bearer("web", "acme", ["service"]), bearer("backend", "acme", ["service"])
        assert (await gw.http.post("/analytics/events/batch", json=batch, headers=web)).status_code == 200
        assert (await gw.http.post("/analytics/events/batch", json=batch, headers=backend)).status_code == 200
        refused = await gw.http.post("/analytics/events/batch", json=batch, headers=web)
        assert_limited(refused, retry_after=1, limit=120, remaining=20)  # 50 needed: 30 more at 100/s
        other_tenant = bearer("web", "globex", ["service"])
        assert (
            await gw.http.post("/analytics/events/batch", json=batch, headers=other_tenant)
        ).status_code == 200
        assert len(gw.sink.messages()) == 150


async def test_the_query_api_limits_reads_per_credential() -> None:
    clock = FakeClock()
    settings = limits(query_credential_requests_per_s=0.5, query_credential_requests_burst=2)
    unreachable = QuerySettings(clickhouse_url=f"http://127.0.0.1:{free_port()}", query_retry_after_s=5)
    app = create_query_api(unreachable, limiter=settings.query_limiter(clock))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://query") as http:
        alice = bearer("alice", "acme", ["user"])
        for _ in range(2):  # allowed: they reach the (unreachable) store
            assert (await http.get("/analytics/dashboard/alice", headers=alice)).status_code == 503
        assert_limited(await http.get("/analytics/dashboard/alice", headers=alice), retry_after=2, limit=2)
        assert (await http.get("/healthz")).status_code == 200  # health is never limited
        clock.now += 2
        assert (await http.get("/analytics/dashboard/alice", headers=alice)).status_code == 503
    await app.state.query_store.close()
