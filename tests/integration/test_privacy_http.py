"""IP and user-agent handling end to end over HTTP: a tenant's settings, saved through the config API, decide
what the gateway stamps, and so what reaches ClickHouse (the embedded product, in process)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from cli.dev_app import create_dev_app
from ingest_gateway.settings import GatewaySettings
from schemas.topics import Stream
from stream_processors.settings import WorkerSettings
from tests.conftest import ClickHouseTarget
from tests.support.auth import bearer
from tests.support.examples import example

pytestmark = pytest.mark.clickhouse

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("ip_handling", "user_agent_handling", "stored_ip", "stored_agent"),
    [
        ("store", "keep", "203.0.113.77", CHROME),
        ("truncate", "drop", "203.0.113.0", ""),
        ("drop", "keep", "", CHROME),
    ],
)
async def test_tenant_settings_decide_what_reaches_clickhouse(
    clickhouse: ClickHouseTarget,
    monkeypatch: pytest.MonkeyPatch,
    ip_handling: str,
    user_agent_handling: str,
    stored_ip: str,
    stored_agent: str,
) -> None:
    monkeypatch.setenv("ANALYTICS_PRIVACY_REFRESH_S", "0.1")
    worker = WorkerSettings(
        clickhouse_url=clickhouse.url, clickhouse_database=clickhouse.database, embedded_gather_wait_s=0
    )
    app = create_dev_app(GatewaySettings(), worker)
    admin = bearer("root", "acme", ["admin"])
    session = f"s-{uuid.uuid4().hex[:8]}"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://product", headers=admin) as http:
            tenant = {"ip_handling": ip_handling, "user_agent_handling": user_agent_handling}
            saved = await http.put("/analytics/config/root", json={"tenant": tenant})
            assert saved.status_code == 200, saved.text
            assert saved.json()["data"]["tenant"]["user_agent_handling"] == user_agent_handling
            await asyncio.sleep(0.5)  # the gateway's privacy directory refreshes every 0.1 s here
            event = {
                **example(Stream.EVENTS, "valid_minimal_page_view.json"),
                "session_id": session,
                "ip_address": "203.0.113.77",
                "user_agent": CHROME,
            }
            event.pop("id", None)
            assert (await http.post("/analytics/events", json=event)).status_code == 200
    client = clickhouse.client()
    rows = client.query(
        "SELECT ip_address, user_agent, browser, os, device FROM analytics_events "
        "WHERE tenant_id = 'acme' AND session_id = {s:String}",
        parameters={"s": session},
    ).result_rows
    client.close()
    assert len(rows) == 1
    ip, agent, browser, os_name, device = rows[0]
    assert (ip or "", agent) == (stored_ip, stored_agent)
    assert (browser, os_name) == (
        "Chrome",
        "Windows",
    )  # parsed at the gateway even when the string is dropped
    assert device == "Other"
