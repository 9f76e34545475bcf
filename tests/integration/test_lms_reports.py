"""Reports (the seed's ``Report``) on the generated learning platform: CRUD on SQLite and a real
PostgreSQL; each format read back by an independent reader (``json``, ``csv``, openpyxl, pypdf) and its
numbers equal to the API's answers for the same parameters; each report type equal to the read it names;
signed, expiring, tenant-bound download links; generations that outlive the request, and those of a
process that died."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import openpyxl
import pypdf
import pytest
from sqlalchemy import update

from plumbing.config_db import ConfigDatabase
from query_api.lms_reports.settings import ReportSettings
from query_api.main import create_app
from query_api.settings import QuerySettings
from schemas.config_models import ReportGeneration
from tests.conftest import ClickHouseTarget
from tests.support.lms_http import NOW, bearer_of, data, lms_client
from tests.support.lms_platform_store import Tenant, checked_tenants

pytestmark = pytest.mark.clickhouse

R = "/api/admin/reports"
A = "/api/admin/analytics"
RANGE = {"startDate": "2026-01-26", "endDate": "2026-02-22"}
"""Four ISO weeks across a month boundary."""


@pytest.fixture(scope="module")
def tenants(lms_platform: tuple[ClickHouseTarget, list[Any]]) -> list[Tenant]:
    return checked_tenants(lms_platform[1])


def admin(tenant: str) -> dict[str, str]:
    return bearer_of("report-admin", tenant, "admin")


def settings_in(folder: Path, **changes: Any) -> ReportSettings:
    return ReportSettings(files_dir=str(folder), files_signing_key="k" * 40, **changes)


async def create(
    http: httpx.AsyncClient, tenant: str, report_type: str, config: dict[str, Any], **more: Any
) -> Any:
    body = {"report_name": f"{report_type} {len(config)}-{id(config)}", "report_type": report_type}
    response = await http.post(R, json={**body, "report_config": config, **more}, headers=admin(tenant))
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def generate(
    http: httpx.AsyncClient, tenant: str, report_id: int, fmt: str, **parameters: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"format": fmt}
    if parameters:
        body["parameters"] = parameters
    response = await http.post(f"{R}/{report_id}/generate", json=body, headers=admin(tenant))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()["data"]
    assert answer["status"] == "COMPLETED" and answer["reportUrl"] and answer["generatedAt"]
    return answer


async def download(http: httpx.AsyncClient, url: str) -> httpx.Response:
    """The link as a recipient follows it: no credential."""
    response = await http.get(url)
    assert response.status_code == 200, response.text
    return response


def api_rows(items: list[dict[str, Any]], columns: list[str]) -> list[list[Any]]:
    return [[item[c] for c in columns] for item in items]


async def test_reports_crud_on_both_stores(
    lms_platform: tuple[ClickHouseTarget, list[Any]], config_database_url: str, tmp_path: Path
) -> None:
    async with lms_client(lms_platform, config_database_url, settings_in(tmp_path)) as http:
        tenant, other = "reports-crud-a", "reports-crud-b"
        made = await create(http, tenant, "SYSTEM_USAGE", {"period": "LAST_30_DAYS", "granularity": "DAILY"})
        assert made["report_status"] == "DRAFT" and made["tenant_id"] == tenant
        assert made["created_by"] == "report-admin" and made["version"] == 1
        report_id = made["report_id"]
        custom = await create(http, tenant, "CUSTOM", {"metricIds": [1]}, report_description="kpis")

        listed = await http.get(R, params={"type": "CUSTOM"}, headers=admin(tenant))
        assert [r["report_id"] for r in listed.json()["data"]] == [custom["report_id"]]
        listed = await http.get(R, params={"createdBy": "nobody"}, headers=admin(tenant))
        assert listed.json()["data"] == [] and listed.json()["pagination"]["total"] == 0
        listed = await http.get(R, params={"status": "DRAFT", "limit": 1}, headers=admin(tenant))
        assert listed.json()["pagination"]["total"] == 2 and len(listed.json()["data"]) == 1

        got = await http.get(f"{R}/{report_id}", headers=admin(tenant))
        assert got.json()["data"]["data"] is None and got.headers["etag"] == '"1"'
        assert (await http.get(f"{R}/{report_id}", headers=admin(other))).status_code == 404

        stale = await http.patch(
            f"{R}/{report_id}", json={"report_name": "x"}, headers={**admin(tenant), "If-Match": '"7"'}
        )
        assert stale.status_code == 412
        changed = await http.patch(
            f"{R}/{report_id}",
            json={"report_config": {"period": "LAST_7_DAYS"}, "report_status": "CANCELLED"},
            headers={**admin(tenant), "If-Match": '"1"'},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["data"]["report_status"] == "CANCELLED" and changed.headers["etag"] == '"2"'

        for bad, field in (
            ({"granularity": "HOURLY"}, "report_config.granularity"),
            ({"courseIds": [0]}, "report_config.courseIds.0"),
            ({"sql": "DROP TABLE x"}, "report_config.sql"),
        ):
            refused = await http.patch(f"{R}/{report_id}", json={"report_config": bad}, headers=admin(tenant))
            assert refused.status_code == 400 and field in refused.json()["details"], (bad, refused.text)
        refused = await http.post(
            R,
            json={"report_name": "c", "report_type": "CUSTOM", "report_config": {}},
            headers=admin(tenant),
        )
        assert refused.status_code == 400 and "report_config.metricIds" in refused.json()["details"]
        refused = await http.post(
            R,
            json={"report_name": "c", "report_type": "SYSTEM_USAGE", "report_config": {}, "tenant_id": other},
            headers=admin(tenant),
        )
        assert refused.status_code == 400
        teacher = await http.get(R, headers=bearer_of("t", tenant, "teacher"))
        assert teacher.status_code == 403

        deleted = await http.delete(f"{R}/{report_id}", headers=admin(tenant))
        assert deleted.status_code == 200
        assert (await http.get(f"{R}/{report_id}", headers=admin(tenant))).status_code == 404
        listed = await http.get(R, headers=admin(tenant))
        assert [r["report_id"] for r in listed.json()["data"]] == [custom["report_id"]]


async def test_system_usage_in_every_format_equals_the_api(
    lms_platform: tuple[ClickHouseTarget, list[Any]], tenants: list[Tenant], tmp_path: Path
) -> None:
    tenant = tenants[1].tenant_id
    async with lms_client(lms_platform, None, settings_in(tmp_path)) as http:
        usage = (await data(http, f"{A}/system/usage", admin(tenant), granularity="DAILY", **RANGE))["data"]
        assert len(usage) == 28 and sum(day["active_users"] for day in usage) > 0
        report = await create(http, tenant, "SYSTEM_USAGE", {**RANGE, "granularity": "DAILY"})
        columns = [c for c in usage[0] if c != "tenant_id"]
        want = api_rows(usage, columns)

        answer = await generate(http, tenant, report["report_id"], "JSON")
        body = (await download(http, answer["reportUrl"])).json()
        assert (body["period_start"], body["period_end"]) == ("2026-01-26", "2026-02-22")
        assert body["timezone"] == tenants[1].zone.key and body["report_type"] == "SYSTEM_USAGE"
        (section,) = body["sections"]
        assert [c["name"] for c in section["columns"]] == columns
        assert section["rows"] == want

        answer = await generate(http, tenant, report["report_id"], "CSV")
        response = await download(http, answer["reportUrl"])
        assert response.headers["content-type"].startswith("text/csv")
        lines = list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))
        assert lines[0] == ["section", *columns]
        for line, expected in zip(lines[1:], want, strict=True):
            assert line[0] == "System usage"
            for text, value in zip(line[1:], expected, strict=True):
                assert text == "" if value is None else _same(text, value), (text, value)

        answer = await generate(http, tenant, report["report_id"], "EXCEL")
        book = openpyxl.load_workbook(io.BytesIO((await download(http, answer["reportUrl"])).content))
        sheet = book["System usage"]
        assert sheet.freeze_panes == "A2"
        cells = list(sheet.iter_rows(min_row=1, values_only=True))
        assert list(cells[0]) == columns
        for row, expected in zip(cells[1:], want, strict=True):
            for cell, value in zip(row, expected, strict=True):
                if isinstance(cell, datetime):
                    assert cell.date().isoformat() == value
                else:
                    assert cell == value, (cell, value)

        answer = await generate(http, tenant, report["report_id"], "PDF")
        reader = pypdf.PdfReader(io.BytesIO((await download(http, answer["reportUrl"])).content))
        assert (
            "2026-01-26" in reader.pages[0].extract_text()
            and tenants[1].zone.key in reader.pages[0].extract_text()
        )
        assert any(page.images for page in reader.pages), "a chart image"
        words = " ".join(page.extract_text() for page in reader.pages[1:]).split()
        for day in (usage[0], max(usage, key=lambda day: day["active_users"])):
            printed = [
                day["period_start"],
                day["period_end"],
                str(day["total_users"]),
                str(day["active_users"]),
            ]
            assert any(words[i : i + 4] == printed for i in range(len(words))), printed

        got = await http.get(f"{R}/{report['report_id']}", headers=admin(tenant))
        latest = got.json()["data"]
        assert latest["report_status"] == "COMPLETED" and latest["data"]["format"] == "PDF"
        assert latest["last_generated_at"] is not None and latest["data"]["rows_written"] == 28


def _same(text: str, value: Any) -> bool:
    if isinstance(value, bool):
        return text == str(value).lower()
    if isinstance(value, int | float):
        return float(text) == value
    return text == str(value)


async def test_each_report_type_equals_the_read_it_names(
    lms_platform: tuple[ClickHouseTarget, list[Any]], tenants: list[Tenant], tmp_path: Path
) -> None:
    t = tenants[0]
    course = t.courses[0]
    async with lms_client(lms_platform, None, settings_in(tmp_path)) as http:

        async def sections(report_type: str, config: dict[str, Any]) -> list[dict[str, Any]]:
            report = await create(http, t.tenant_id, report_type, config)
            answer = await generate(http, t.tenant_id, report["report_id"], "JSON")
            found: list[dict[str, Any]] = (await download(http, answer["reportUrl"])).json()["sections"]
            return found

        def rows_of(section: dict[str, Any]) -> list[dict[str, Any]]:
            names = [c["name"] for c in section["columns"]]
            return [dict(zip(names, row, strict=True)) for row in section["rows"]]

        def without_tenant(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{k: v for k, v in item.items() if k != "tenant_id"} for item in items]

        perf = (
            await data(
                http, f"{A}/courses/{course}/performance", admin(t.tenant_id), granularity="WEEKLY", **RANGE
            )
        )["data"]
        summary, series = await sections("COURSE_PERFORMANCE", {**RANGE, "courseIds": [course]})
        assert rows_of(summary) == without_tenant([perf["summary"]])
        assert rows_of(series) == without_tenant(perf["series"]) and len(series["rows"]) == 4

        engagement = (
            await data(
                http,
                f"{A}/courses/{course}/engagement",
                admin(t.tenant_id),
                period="CUSTOM",
                limit=500,
                **RANGE,
            )
        )["data"]
        courses, students = await sections(
            "USER_ENGAGEMENT", {**RANGE, "period": "CUSTOM", "courseIds": [course]}
        )
        assert rows_of(courses) == [
            {k: v for k, v in engagement.items() if k not in ("tenant_id", "students")}
        ]
        assert rows_of(students) == engagement["students"] and students["rows"]

        assessments = (
            await data(
                http, f"{A}/courses/{course}/assessments", admin(t.tenant_id), period="CUSTOM", **RANGE
            )
        )["data"]
        (section,) = await sections("ASSESSMENT_SUMMARY", {**RANGE, "courseIds": [course]})
        assert rows_of(section) == without_tenant(assessments) and assessments

        videos = (
            await data(http, f"{A}/courses/{course}/videos", admin(t.tenant_id), period="CUSTOM", **RANGE)
        )["data"]
        (section,) = await sections("VIDEO_ANALYTICS", {**RANGE, "courseIds": [course]})
        flat = [{k: v for k, v in v_.items() if not isinstance(v, dict)} for v_ in without_tenant(videos)]
        assert rows_of(section) == flat and videos

        metric = await http.post(
            f"{A}/custom-metrics",
            json={
                "metric_name": "weekly logins",
                "metric_type": "TREND",
                "calculation_config": {"measure": "user_days.logins", "granularity": "WEEKLY"},
            },
            headers=admin(t.tenant_id),
        )
        assert metric.status_code == 201, metric.text
        metric_id = metric.json()["data"]["metric_id"]
        calculated = await http.post(
            f"{A}/custom-metrics/{metric_id}/calculate", json={"timeRange": RANGE}, headers=admin(t.tenant_id)
        )
        want = calculated.json()["data"]
        values, trend = await sections("CUSTOM", {**RANGE, "metricIds": [metric_id, 999_999]})
        assert rows_of(values) == [
            {
                "source": "metric",
                "id": metric_id,
                "name": "weekly logins",
                "metric_type": "TREND",
                "value": want["value"],
                "error": None,
            },
            {
                "source": "metric",
                "id": 999_999,
                "name": None,
                "metric_type": None,
                "value": None,
                "error": "METRIC_NOT_FOUND",
            },
        ]
        assert rows_of(trend) == want["points"] and len(want["points"]) == 4


async def test_download_links_are_signed_bound_and_expire(
    lms_platform: tuple[ClickHouseTarget, list[Any]], tenants: list[Tenant], tmp_path: Path
) -> None:
    tenant = tenants[2].tenant_id
    async with lms_client(lms_platform, None, settings_in(tmp_path, report_link_ttl_s=3600)) as http:
        report = await create(http, tenant, "SYSTEM_USAGE", {**RANGE, "granularity": "WEEKLY"})
        answer = await generate(http, tenant, report["report_id"], "CSV")
        url = answer["reportUrl"]
        assert datetime.fromisoformat(answer["expiresAt"]) == datetime.fromisoformat(
            answer["generatedAt"]
        ) + timedelta(hours=1)
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        await download(http, url)
        for changed in (
            {
                "signature": query["signature"][:-2]
                + ("AA" if not query["signature"].endswith("AA") else "BB")
            },
            {"expires": str(int(query["expires"]) + 86400)},
            {"generation": str(int(query["generation"]) + 1)},
        ):
            refused = await http.get(parts.path, params={**query, **changed})
            assert refused.status_code == 403, (changed, refused.text)
            assert refused.json()["errorCode"] == "FORBIDDEN"
        other_report = await create(http, tenant, "SYSTEM_USAGE", {**RANGE})
        moved = await http.get(f"{R}/{other_report['report_id']}/download", params=query)
        assert moved.status_code == 403

    later = NOW + timedelta(hours=2)
    settings = QuerySettings(
        clickhouse_url=lms_platform[0].url,
        clickhouse_database=lms_platform[0].database,
        query_cache_ttl_s=0,
    )
    app = create_app(
        settings, clock=lambda: later, report_settings=settings_in(tmp_path, report_link_ttl_s=3600)
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://query") as http:
        gone = await http.get(url)
        assert gone.status_code == 410 and gone.json()["errorCode"] == "GONE"
        failed, removed = await app.state.report_jobs.sweep()
        assert (failed, removed) == (0, 1)
        assert not list((tmp_path / "reports").rglob("*.csv"))
    await app.state.report_jobs.close()
    await app.state.query_store.close()
    await app.state.config_db.close()


async def test_a_long_generation_answers_202_and_a_dead_ones_is_marked_failed(
    lms_platform: tuple[ClickHouseTarget, list[Any]], tenants: list[Tenant], tmp_path: Path
) -> None:
    tenant = tenants[0].tenant_id
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'config.db'}"
    async with lms_client(lms_platform, database_url, settings_in(tmp_path, report_wait_s=0)) as http:
        report = await create(http, tenant, "COURSE_PERFORMANCE", {**RANGE, "granularity": "DAILY"})
        started = await http.post(
            f"{R}/{report['report_id']}/generate", json={"format": "EXCEL"}, headers=admin(tenant)
        )
        assert started.status_code == 202, started.text
        pending = started.json()["data"]
        assert (
            pending["status"] == "GENERATING"
            and pending["reportUrl"] is None
            and pending["generatedAt"] is None
        )
        for _ in range(600):
            latest = (await http.get(f"{R}/{report['report_id']}", headers=admin(tenant))).json()["data"]
            if latest["data"]["status"] != "GENERATING":
                break
            await asyncio.sleep(0.05)
        assert latest["report_status"] == "COMPLETED" and latest["data"]["reportUrl"], latest
        book = openpyxl.load_workbook(io.BytesIO((await download(http, latest["data"]["reportUrl"])).content))
        assert book.sheetnames == ["Report", "Courses", "Series (daily)"]

        # a process that died mid-generation: its generation's heartbeat stops
        dying = await http.post(
            f"{R}/{report['report_id']}/generate", json={"format": "PDF"}, headers=admin(tenant)
        )
        dead_id = dying.json()["data"]["generation_id"]
        await asyncio.sleep(0)  # (its task is this process's: stop it before it writes, as a kill would)
    database = ConfigDatabase(database_url)
    async with database.session() as session:
        await session.execute(
            update(ReportGeneration)
            .where(ReportGeneration.generation_id == dead_id)
            .values(status="GENERATING", heartbeat_at=NOW - timedelta(hours=1), error=None, finished_at=None)
        )
    await database.close()
    settings = QuerySettings(
        clickhouse_url=lms_platform[0].url,
        clickhouse_database=lms_platform[0].database,
        database_url=database_url,
    )
    app = create_app(settings, clock=lambda: NOW, report_settings=settings_in(tmp_path))
    assert await app.state.report_jobs.sweep() == (1, 0)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://query") as http:
        latest = (await http.get(f"{R}/{report['report_id']}", headers=admin(tenant))).json()["data"]
        assert latest["data"]["generation_id"] == dead_id
        assert latest["data"]["status"] == "FAILED" and "interrupted" in latest["data"]["error"]
        assert latest["report_status"] == "FAILED"
    await app.state.report_jobs.close()
    await app.state.query_store.close()
    await app.state.config_db.close()
