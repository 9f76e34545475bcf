"""Talking to the LMS API in tests: an in-process query API over the stored learning platform
(``tests/support/lms_platform_store.py``) with each tenant's zone and a fixed clock, credentials per role,
and JSON views of oracle values."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from loadgen.lms_platform import TenantPlatform
from query_api.lms_reports.settings import ReportSettings
from query_api.main import create_app
from query_api.settings import QuerySettings
from tests.conftest import ClickHouseTarget
from tests.support.auth import token

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
"""After the generated term (2025-12-01 .. 2026-03-15)."""


def json_of(value: Any) -> Any:
    """An oracle value as JSON carries it: decimals as numbers, dates ``YYYY-MM-DD``, UTC times RFC 3339
    with ``Z``."""
    if isinstance(value, dict):
        return {k: json_of(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_of(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


@asynccontextmanager
async def lms_client(
    lms_platform: tuple[ClickHouseTarget, list[TenantPlatform]],
    database_url: str | None = None,
    report_settings: ReportSettings | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """``database_url``: the configuration store (migrated; default: a SQLite file nobody writes);
    ``report_settings``: default the environment's (files in this session's directory)."""
    target, platforms = lms_platform
    settings = QuerySettings(
        clickhouse_url=target.url,
        clickhouse_database=target.database,
        tenant_timezones={p.tenant_id: p.time_zone for p in platforms},
        query_cache_ttl_s=0,
        **({"database_url": database_url} if database_url else {}),
    )
    app = create_app(settings, clock=lambda: NOW, report_settings=report_settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://query") as client:
        yield client
    await app.state.report_jobs.close()
    await app.state.query_store.close()
    await app.state.config_db.close()


def admin(tenant: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token('lms-admin', tenant, ('admin',))}"}


def bearer_of(sub: str, tenant: str, role: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token(sub, tenant, (role,))}"}


async def data(http: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any) -> Any:
    """The success envelope of a 200 answer (checked)."""
    response = await http.get(path, params=params, headers=headers)
    assert response.status_code == 200, (path, params, response.text[:2000])
    body = response.json()
    assert body["statusCode"] == 200 and body["message"] == "OK"
    assert body["correlationId"] == response.headers["x-request-id"]
    return body


async def error(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], status: int, **params: Any
) -> Any:
    """The error envelope of an answer with ``status`` (checked)."""
    response = await http.get(path, params=params, headers=headers)
    assert response.status_code == status, response.text[:1000]
    body = response.json()
    assert set(body) == {"statusCode", "message", "errorCode", "details", "correlationId"}, body
    assert body["statusCode"] == status and body["correlationId"] == response.headers["x-request-id"]
    return body


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
