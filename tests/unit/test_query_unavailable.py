"""An unreachable ClickHouse makes the query API answer 503 with ``Retry-After`` (not 500), and not ready."""

from __future__ import annotations

import time

import httpx

from query_api.main import create_app
from query_api.settings import QuerySettings
from tests.auth import bearer
from tests.conftest import free_port


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
