"""Data exports (the seed's ``AnalyticsExport``) over HTTP on the generated learning platform: the file
equals the API's answer; progress while written; cancelling a pending and a running job; expiry (410 and
the file removed); another tenant refused; a tampered signature refused; and a job of a process that died
mid-export found and marked failed by the next one."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import update

import query_api.lms_reports.exports as exports_module
from plumbing.config_db import ConfigDatabase
from query_api.lms_reports.document import ReportDocument
from query_api.lms_reports.settings import ReportSettings
from query_api.main import create_app
from query_api.settings import QuerySettings
from schemas.config_models import AnalyticsExport
from tests.conftest import ClickHouseTarget
from tests.support.lms_http import NOW, bearer_of, data, lms_client
from tests.support.lms_platform_store import Tenant, checked_tenants

pytestmark = pytest.mark.clickhouse

E = "/api/admin/analytics"
RANGE = {"startDate": "2026-01-26", "endDate": "2026-02-22"}


@pytest.fixture(scope="module")
def tenants(lms_platform: tuple[ClickHouseTarget, list[Any]]) -> list[Tenant]:
    return checked_tenants(lms_platform[1])


def admin(tenant: str) -> dict[str, str]:
    return bearer_of("export-admin", tenant, "admin")


def settings_in(folder: Path, **changes: Any) -> ReportSettings:
    return ReportSettings(files_dir=str(folder), files_signing_key="e" * 40, **changes)


async def started(http: httpx.AsyncClient, tenant: str, fmt: str, **body: Any) -> dict[str, Any]:
    request = {
        "dataType": "system_usage",
        "format": fmt,
        "timeRange": RANGE,
        "filters": {"granularity": "DAILY"},
    }
    response = await http.post(f"{E}/export", json={**request, **body}, headers=admin(tenant))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()["data"]
    return answer


async def settled(http: httpx.AsyncClient, tenant: str, export_id: int) -> dict[str, Any]:
    for _ in range(400):
        row: dict[str, Any] = (await http.get(f"{E}/exports/{export_id}", headers=admin(tenant))).json()[
            "data"
        ]
        if row["export_status"] not in ("pending", "processing"):
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"export {export_id} still {row['export_status']}")


async def test_an_export_equals_the_api_and_is_refused_to_others(
    lms_platform: tuple[ClickHouseTarget, list[Any]], tenants: list[Tenant], tmp_path: Path
) -> None:
    t, other = tenants[1], tenants[0]
    async with lms_client(lms_platform, None, settings_in(tmp_path)) as http:
        usage = (await data(http, f"{E}/system/usage", admin(t.tenant_id), granularity="DAILY", **RANGE))[
            "data"
        ]
        answer = await started(http, t.tenant_id, "CSV")
        assert answer["status"] == "pending" and answer["exportUrl"].startswith("http://query/api/admin/")
        assert datetime.fromisoformat(answer["expiresAt"]) == NOW + timedelta(days=7)
        row = await settled(http, t.tenant_id, answer["exportId"])
        assert row["export_status"] == "completed" and row["rows_written"] == len(usage) == 28
        assert (
            row["file_size"] > 0
            and row["export_type"] == "system_usage"
            and row["requested_by"] == "export-admin"
        )
        response = await http.get(answer["exportUrl"], headers=admin(t.tenant_id))
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        lines = list(csv.DictReader(io.StringIO(response.content.decode())))
        assert [(r["period_start"], int(r["active_users"]), float(r["error_rate"])) for r in lines] == [
            (d["period_start"], d["active_users"], d["error_rate"]) for d in usage
        ]

        listed = await http.get(
            f"{E}/exports", params={"status": "completed", "format": "CSV"}, headers=admin(t.tenant_id)
        )
        assert [e["export_id"] for e in listed.json()["data"]] == [answer["exportId"]]
        assert (await http.get(f"{E}/exports", params={"format": "PDF"}, headers=admin(t.tenant_id))).json()[
            "data"
        ] == []

        # another tenant's admin, even with the link, finds nothing; a student is refused
        assert (await http.get(answer["exportUrl"], headers=admin(other.tenant_id))).status_code == 404
        assert (
            await http.get(f"{E}/exports/{answer['exportId']}", headers=admin(other.tenant_id))
        ).status_code == 404
        assert (
            await http.delete(f"{E}/exports/{answer['exportId']}", headers=admin(other.tenant_id))
        ).status_code == 404
        assert (
            await http.get(answer["exportUrl"], headers=bearer_of("9", t.tenant_id, "student"))
        ).status_code == 403
        assert (await http.get(answer["exportUrl"])).status_code == 401
        # a tampered link is refused
        parts = urlsplit(answer["exportUrl"])
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        for changed in (
            {"signature": "A" + query["signature"][1:]},
            {"expires": str(int(query["expires"]) + 1)},
        ):
            refused = await http.get(parts.path, params={**query, **changed}, headers=admin(t.tenant_id))
            assert refused.status_code == 403, changed
        refused = await http.post(
            f"{E}/export", json={"dataType": "custom", "format": "JSON"}, headers=admin(t.tenant_id)
        )
        assert refused.status_code == 400 and "filters.metricIds" in refused.json()["details"]

        # a finished export is deleted with its file
        path = next((tmp_path / "exports").rglob(f"{answer['exportId']}.csv"))
        assert (
            await http.delete(f"{E}/exports/{answer['exportId']}", headers=admin(t.tenant_id))
        ).status_code == 200
        assert not path.exists()
        assert (
            await http.get(f"{E}/exports/{answer['exportId']}", headers=admin(t.tenant_id))
        ).status_code == 404


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Exports whose rows stop after the first 10 until the gate opens (the writer waits in its thread)."""
    opened = threading.Event()
    build = exports_module.build_report

    async def held(*args: Any, **kwargs: Any) -> ReportDocument:
        document = await build(*args, **kwargs)
        for section in document.sections:
            rows = list(section.rows)

            def slow(rows: list[Any] = rows) -> Iterator[Any]:
                for number, row in enumerate(rows):
                    if number == 10:
                        opened.wait(30)
                    yield row

            section.rows = slow()
        return document

    monkeypatch.setattr(exports_module, "build_report", held)
    monkeypatch.setattr("query_api.lms_reports.writers.CHUNK_ROWS", 5)
    yield opened
    opened.set()


async def test_progress_cancel_expiry_and_a_dead_processs_export(
    lms_platform: tuple[ClickHouseTarget, list[Any]],
    tenants: list[Tenant],
    tmp_path: Path,
    gate: threading.Event,
) -> None:
    t = tenants[2]
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'config.db'}"
    settings = settings_in(tmp_path, report_generators=1, report_heartbeat_s=0.05, report_link_ttl_s=3600)
    async with lms_client(lms_platform, database_url, settings) as http:
        running = await started(http, t.tenant_id, "JSON")
        waiting = await started(http, t.tenant_id, "EXCEL")
        for _ in range(200):
            row = (await http.get(f"{E}/exports/{running['exportId']}", headers=admin(t.tenant_id))).json()[
                "data"
            ]
            if row["rows_written"] == 10:
                break
            await asyncio.sleep(0.05)
        assert (row["export_status"], row["rows_written"]) == ("processing", 10)  # progress while held
        queued = (await http.get(f"{E}/exports/{waiting['exportId']}", headers=admin(t.tenant_id))).json()[
            "data"
        ]
        assert queued["export_status"] == "pending" and queued["file_url"] is None
        early = await http.get(running["exportUrl"], headers=admin(t.tenant_id))
        assert early.status_code == 409

        for export in (waiting, running):
            cancelled = await http.delete(f"{E}/exports/{export['exportId']}", headers=admin(t.tenant_id))
            assert cancelled.status_code == 200 and "cancelled" in cancelled.json()["data"]["message"]
        gate.set()
        for export in (waiting, running):
            row = await settled(http, t.tenant_id, export["exportId"])
            assert row["export_status"] == "cancelled" and row["file_url"] is None
        assert not list((tmp_path / "exports").rglob("*.*"))  # no file, not even a partial one

        done = await started(http, t.tenant_id, "JSON")
        assert (await settled(http, t.tenant_id, done["exportId"]))["export_status"] == "completed"
        gate.clear()  # held mid-file when the process goes
        dying = await started(http, t.tenant_id, "CSV")

    # the process died: its export stays `processing` with a heartbeat that stopped
    database = ConfigDatabase(database_url)
    async with database.session() as session:
        await session.execute(
            update(AnalyticsExport)
            .where(AnalyticsExport.export_id == dying["exportId"])
            .values(export_status="processing", heartbeat_at=NOW - timedelta(minutes=5), error=None)
        )
    await database.close()
    later = NOW + timedelta(hours=2)
    target = lms_platform[0]
    app = create_app(
        QuerySettings(
            clickhouse_url=target.url, clickhouse_database=target.database, database_url=database_url
        ),
        clock=lambda: later,
        report_settings=settings,
    )
    assert await app.state.report_jobs.sweep() == (1, 1)  # the dead export failed, the expired file removed
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://query") as http:
        dead = (await http.get(f"{E}/exports/{dying['exportId']}", headers=admin(t.tenant_id))).json()["data"]
        assert dead["export_status"] == "failed" and "interrupted" in dead["error"]
        gone = await http.get(done["exportUrl"], headers=admin(t.tenant_id))
        assert gone.status_code == 410 and gone.json()["errorCode"] == "GONE"
        stuck = await http.get(f"{E}/exports", params={"status": "processing"}, headers=admin(t.tenant_id))
        assert stuck.json()["data"] == []
    await app.state.report_jobs.close()
    await app.state.query_store.close()
    await app.state.config_db.close()
