"""An unreachable ClickHouse, or an embedded store held by another process, makes the query API answer 503
with ``Retry-After`` and the cause (not 500), and not ready, saying why."""

from __future__ import annotations

import time

import httpx
from clickhouse_connect.driver.client import Client

from plumbing.clickhouse import StoreHeldError
from query_api.main import create_app
from query_api.metrics import QueryMetrics
from query_api.settings import QuerySettings
from query_api.store import QueryStore
from tests.conftest import free_port
from tests.support.auth import bearer


async def test_unreachable_clickhouse_answers_503_in_the_envelope() -> None:
    settings = QuerySettings(clickhouse_url=f"http://127.0.0.1:{free_port()}", query_cache_ttl_s=0)
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://query", headers=bearer()
    ) as client:
        started = time.monotonic()
        response = await client.get("/analytics/dashboard/u1")
        assert time.monotonic() - started < 30
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
        assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert (await client.get("/readyz")).status_code == 503
        assert (await client.get("/healthz")).status_code == 200
    await app.state.query_store.close()


async def test_an_embedded_store_held_by_another_process_is_named_in_the_503_and_in_readyz() -> None:
    def held() -> Client:
        raise StoreHeldError("/srv/analytics/ch", 4242)

    store = QueryStore(held, QueryMetrics())
    app = create_app(QuerySettings(clickhouse_url="chdb:///srv/analytics/ch", query_cache_ttl_s=0), store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://query", headers=bearer()
    ) as client:
        response = await client.get("/analytics/dashboard/u1")
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
        error = response.json()["error"]
        assert error["code"] == "SERVICE_UNAVAILABLE"
        assert error["message"].startswith("the embedded ClickHouse store is held by another process")
        assert "/srv/analytics" not in error["message"]  # no server paths to clients
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json() == {"status": "not ready", "reason": error["message"]}
    await store.close()
