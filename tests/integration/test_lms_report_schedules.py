"""Report schedules over HTTP and the scheduler on the generated learning platform: CRUD (cron and zone
checked, ``next_run_at`` computed), a real SMTP server (``aiosmtpd``) receiving a scheduled report with its
file attached, a schedule whose local time falls on each DST change of Europe/Berlin running once at the
right instant, and two schedulers over one store (SQLite and PostgreSQL) never running a due time
twice."""

from __future__ import annotations

import asyncio
import email
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiosmtpd.controller import Controller
from itsdangerous import Signer
from sqlalchemy import select

from plumbing.config_db import ConfigDatabase
from query_api.lms_reports.delivery import Deliveries
from query_api.lms_reports.files import FileStore
from query_api.lms_reports.jobs import ReportJobs
from query_api.lms_reports.schedules import Scheduler
from query_api.lms_reports.settings import ReportSettings
from schemas.config_models import ReportDelivery, ReportSchedule, ScheduleRun
from tests.conftest import ClickHouseTarget
from tests.support.lms_http import bearer_of, lms_client
from tests.support.lms_platform_store import Tenant, checked_tenants, query_store

pytestmark = pytest.mark.clickhouse

R = "/api/admin/reports"
RANGE = {"startDate": "2026-02-02", "endDate": "2026-02-15", "granularity": "DAILY"}


@pytest.fixture(scope="module")
def tenants(lms_platform: tuple[ClickHouseTarget, list[Any]]) -> list[Tenant]:
    return checked_tenants(lms_platform[1])


class Inbox:
    """What the SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def admin(tenant: str) -> dict[str, str]:
    return bearer_of("schedule-admin", tenant, "admin")


def report_settings(folder: Path, port: int = 1) -> ReportSettings:
    return ReportSettings(
        files_dir=str(folder),
        files_signing_key="s" * 40,
        smtp_host="127.0.0.1",
        smtp_port=port,
        delivery_attempts=2,
        public_url="https://analytics.example",
    )


def scheduler_at(
    moment: list[datetime], database_url: str, settings: ReportSettings, store: Any, zone: ZoneInfo, name: str
) -> tuple[Scheduler, ReportJobs]:
    """A scheduler whose clock reads ``moment[0]`` (the test moves it), with its own engine on the store."""
    jobs = ReportJobs(ConfigDatabase(database_url), FileStore(settings), settings, lambda: moment[0])

    async def zone_of(_: str) -> ZoneInfo:
        return zone

    return Scheduler(jobs, store, Deliveries(settings, jobs.files), zone_of, runner=name), jobs


async def schedule(
    http: httpx.AsyncClient, tenant: str, cron: str, zone: str, recipients: list[str], **config: Any
) -> tuple[int, dict[str, Any]]:
    report = await http.post(
        R,
        json={"report_name": f"usage {cron}", "report_type": "SYSTEM_USAGE", "report_config": RANGE},
        headers=admin(tenant),
    )
    assert report.status_code == 201, report.text
    report_id = report.json()["data"]["report_id"]
    made = await http.post(
        f"{R}/{report_id}/schedule",
        json={
            "schedule_name": "weekly",
            "cron_expression": cron,
            "timezone": zone,
            "recipients": recipients,
            "schedule_config": config or None,
        },
        headers=admin(tenant),
    )
    assert made.status_code == 201, made.text
    return report_id, made.json()["data"]


async def test_schedules_crud_checks_cron_and_zone(
    lms_platform: tuple[ClickHouseTarget, list[Any]], config_database_url: str, tmp_path: Path
) -> None:
    tenant = "schedules-crud"
    async with lms_client(lms_platform, config_database_url, report_settings(tmp_path)) as http:
        report_id, made = await schedule(http, tenant, "0 7 * * MON", "Europe/Berlin", ["a@example.com"])
        # the fixed clock of lms_client is Friday 2026-03-20 12:00 UTC: Monday 07:00 CET is 06:00 UTC
        assert made["next_run_at"] == "2026-03-23T06:00:00Z" and made["last_run_at"] is None
        assert made["report_id"] == report_id and made["recipients"] == ["a@example.com"]
        report = (await http.get(f"{R}/{report_id}", headers=admin(tenant))).json()["data"]
        assert report["report_status"] == "SCHEDULED"
        listed = await http.get(f"{R}/schedules", params={"reportId": report_id}, headers=admin(tenant))
        assert [s["schedule_id"] for s in listed.json()["data"]] == [made["schedule_id"]]
        listed = await http.get(f"{R}/schedules", params={"status": "DISABLED"}, headers=admin(tenant))
        assert listed.json()["data"] == []
        path = f"{R}/schedules/{made['schedule_id']}"
        changed = await http.patch(
            path, json={"cron_expression": "30 2 * * *", "timezone": "Europe/Berlin"}, headers=admin(tenant)
        )
        assert changed.status_code == 200 and changed.json()["data"]["next_run_at"] == "2026-03-21T01:30:00Z"
        paused = await http.patch(path, json={"is_enabled": False}, headers=admin(tenant))
        assert paused.json()["data"]["next_run_at"] is None
        for body, field in (
            ({"cron_expression": "61 * * * *"}, "cron_expression"),
            ({"timezone": "Mars/Olympus"}, "timezone"),
            ({"recipients": ["not an address"]}, "recipients.0"),
        ):
            refused = await http.patch(path, json=body, headers=admin(tenant))
            assert refused.status_code == 400 and field in refused.json()["details"], refused.text
        assert (await http.get(path, headers=admin("someone-else"))).status_code == 404
        assert (await http.delete(path, headers=admin(tenant))).status_code == 200
        assert (await http.get(path, headers=admin(tenant))).status_code == 404
        missing = await http.post(
            f"{R}/999999/schedule",
            json={"schedule_name": "x", "cron_expression": "0 7 * * *", "timezone": "UTC", "recipients": []},
            headers=admin(tenant),
        )
        assert missing.status_code == 404


async def test_a_scheduled_report_reaches_a_real_smtp_server_once_per_local_time_across_dst(
    lms_platform: tuple[ClickHouseTarget, list[Any]],
    tenants: list[Tenant],
    tmp_path: Path,
    smtp: tuple[Inbox, int],
) -> None:
    inbox, port = smtp
    t = tenants[0]
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'config.db'}"
    settings = report_settings(tmp_path, port)
    async with lms_client(lms_platform, database_url, settings) as http:
        _, spring = await schedule(
            http,
            t.tenant_id,
            "30 2 * * *",
            "Europe/Berlin",
            ["ops@example.com", "cto@example.com"],
            format="CSV",
        )
        csv_answer = await http.get(
            "/api/admin/analytics/system/usage", params=RANGE, headers=admin(t.tenant_id)
        )
        days = csv_answer.json()["data"]
        moment = [datetime(2026, 3, 28, 22, 0, tzinfo=UTC)]
        scheduler, jobs = scheduler_at(
            moment, database_url, settings, query_store(lms_platform), t.zone, "one"
        )
        # the schedule was created at 2026-03-20: make its next time the one before the change
        async with jobs.database.session() as session:
            row = await session.get(ReportSchedule, spring["schedule_id"])
            row.next_run_at = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
        runs: list[int] = []
        while moment[0] < datetime(2026, 3, 29, 4, 0, tzinfo=UTC):  # every 10 minutes through the night
            runs += await scheduler.tick()
            moment[0] += timedelta(minutes=10)
        assert len(runs) == 1
        async with jobs.database.session() as session:
            (run,) = (await session.scalars(select(ScheduleRun))).all()
        assert run.due_at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC) and run.status == "COMPLETED"
        assert run.started_at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST, right after the jump
        assert sorted(m["To"] for m in inbox.messages) == ["cto@example.com", "ops@example.com"]
        message = inbox.messages[0]
        (attachment,) = [part for part in message.walk() if part.get_filename()]
        text = attachment.get_payload(decode=True).decode()
        lines = text.splitlines()
        assert len(lines) == 1 + len(days)
        assert lines[1].split(",")[1:4] == [
            days[0]["period_start"],
            days[0]["period_end"],
            str(days[0]["total_users"]),
        ]
        body = (
            next(part for part in message.walk() if part.get_content_type() == "text/plain")
            .get_payload(decode=True)
            .decode()
        )
        assert "https://analytics.example/api/admin/reports/" in body

        detail = (
            await http.get(f"{R}/schedules/{spring['schedule_id']}", headers=admin(t.tenant_id))
        ).json()["data"]
        (shown,) = detail["runs"]
        assert {d["recipient"]: d["status"] for d in shown["deliveries"]} == {
            "ops@example.com": "DELIVERED",
            "cto@example.com": "DELIVERED",
        }
        assert detail["next_run_at"] == "2026-03-30T00:30:00Z"

        # fall back: 02:30 happens twice on 2026-10-25 and runs once, at the first
        async with jobs.database.session() as session:
            row = await session.get(ReportSchedule, spring["schedule_id"])
            row.next_run_at = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
        moment[0] = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
        runs = []
        while moment[0] < datetime(2026, 10, 25, 4, 0, tzinfo=UTC):
            runs += await scheduler.tick()
            moment[0] += timedelta(minutes=10)
        assert len(runs) == 1 and len(inbox.messages) == 4
        await jobs.close()
        await jobs.database.close()
        await scheduler.store.close()


@pytest.mark.parametrize("config_database_url", ["sqlite"], indirect=True)
async def test_two_schedulers_over_one_store_run_each_due_time_once(
    lms_platform: tuple[ClickHouseTarget, list[Any]],
    tenants: list[Tenant],
    config_database_url: str,
    tmp_path: Path,
    smtp: tuple[Inbox, int],
) -> None:
    inbox, port = smtp
    t = tenants[1]
    settings = report_settings(tmp_path, port)
    async with lms_client(lms_platform, config_database_url, settings) as http:
        made = [
            (
                await schedule(
                    http, t.tenant_id, f"{minute} * * * *", "UTC", [f"r{minute}@example.com"], format="JSON"
                )
            )[1]
            for minute in (5, 10, 15)
        ]
    moment = [datetime(2026, 3, 20, 12, 20, tzinfo=UTC)]  # each is due (12:05, 12:10, 12:15)
    store = query_store(lms_platform)
    first, first_jobs = scheduler_at(moment, config_database_url, settings, store, t.zone, "first")
    second, second_jobs = scheduler_at(moment, config_database_url, settings, store, t.zone, "second")
    ran = await asyncio.gather(first.tick(), second.tick(), first.tick(), second.tick())
    mine = {s["schedule_id"] for s in made}
    async with first_jobs.database.session() as session:
        runs = [r for r in (await session.scalars(select(ScheduleRun))).all() if r.schedule_id in mine]
    assert sorted(r.schedule_id for r in runs) == sorted(mine)
    assert sum(len(made_by) for made_by in ran) >= len(mine)  # (other tests' schedules may be due too)
    assert all(r.status == "COMPLETED" for r in runs)
    received = sorted(m["To"] for m in inbox.messages if m["To"].startswith("r"))
    assert received == ["r10@example.com", "r15@example.com", "r5@example.com"]
    for jobs in (first_jobs, second_jobs):
        await jobs.close()
        await jobs.database.close()
    await store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("config_database_url", ["postgresql"], indirect=True)
async def test_two_scheduler_processes_over_postgresql_send_each_report_once(
    lms_platform: tuple[ClickHouseTarget, list[Any]],
    config_database_url: str,
    tmp_path: Path,
    smtp: tuple[Inbox, int],
) -> None:
    """``analytics scheduler --once`` twice at the same time (each on a ClickHouse store of its own: chDB
    opens a directory in one process) over one PostgreSQL configuration store: each due schedule is run
    and mailed once, whichever process claims it."""
    inbox, port = smtp
    tenant = f"two-processes-{tmp_path.name[-6:]}"
    async with lms_client(lms_platform, config_database_url, report_settings(tmp_path, port)) as http:
        # created at the fixed clock (2026-03-20): by the real clock, every one is due
        made = [
            (
                await schedule(
                    http, tenant, f"{minute} 7 * * *", "UTC", [f"p{minute}@example.com"], format="CSV"
                )
            )[1]
            for minute in range(6)
        ]
    base = {
        **os.environ,
        "ANALYTICS_DATABASE_URL": config_database_url,
        "ANALYTICS_FILES_DIR": str(tmp_path / "files"),
        "ANALYTICS_FILES_SIGNING_KEY": "p" * 40,
        "ANALYTICS_SMTP_HOST": "127.0.0.1",
        "ANALYTICS_SMTP_PORT": str(port),
        "ANALYTICS_LOG_LEVEL": "WARNING",
    }
    envs = [{**base, "ANALYTICS_CLICKHOUSE_URL": f"chdb://{tmp_path / f'ch{n}'}"} for n in (1, 2)]
    for env in envs:  # each store migrated first, so both schedulers start together
        subprocess.run(
            [sys.executable, "-m", "cli.main", "migrate"], env=env, check=True, capture_output=True
        )
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "cli.main", "scheduler", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for env in envs
    ]
    outputs = [process.communicate(timeout=120)[0].decode() for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    runs = sum(int(out.split("scheduler: ")[1].split(" ")[0]) for out in outputs if "scheduler: " in out)
    mine = {s["schedule_id"] for s in made}
    database = ConfigDatabase(config_database_url)
    async with database.session() as session:
        rows = [r for r in (await session.scalars(select(ScheduleRun))).all() if r.schedule_id in mine]
    await database.close()
    assert sorted(r.schedule_id for r in rows) == sorted(mine) and all(r.status == "COMPLETED" for r in rows)
    assert runs >= len(mine), outputs
    received = sorted(m["To"] for m in inbox.messages)
    assert received == sorted(f"p{minute}@example.com" for minute in range(6))


class Hooks(BaseHTTPRequestHandler):
    """A webhook receiver that fails its first call (500) and keeps what it is sent."""

    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's)
        body = self.rfile.read(int(self.headers["content-length"]))
        Hooks.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(500 if len(Hooks.received) == 1 else 204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


async def test_a_large_report_goes_as_a_link_and_a_signed_webhook_is_retried(
    lms_platform: tuple[ClickHouseTarget, list[Any]],
    tenants: list[Tenant],
    tmp_path: Path,
    smtp: tuple[Inbox, int],
) -> None:
    inbox, port = smtp
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/reports"
    Hooks.received = []
    t = tenants[2]
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'config.db'}"
    settings = report_settings(tmp_path, port).model_copy(update={"smtp_max_attachment_bytes": 0})
    try:
        async with lms_client(lms_platform, database_url, settings) as http:
            _, made = await schedule(
                http, t.tenant_id, "0 6 * * *", "UTC", ["big@example.com"], format="EXCEL", webhooks=[hook]
            )
            moment = [datetime(2026, 3, 21, 6, 1, tzinfo=UTC)]
            scheduler, jobs = scheduler_at(
                moment, database_url, settings, query_store(lms_platform), t.zone, "s"
            )
            assert len(await scheduler.tick()) == 1
            detail = (
                await http.get(f"{R}/schedules/{made['schedule_id']}", headers=admin(t.tenant_id))
            ).json()
            (run,) = detail["data"]["runs"]
            deliveries = {d["channel"]: d for d in run["deliveries"]}
            assert deliveries["email"]["status"] == deliveries["webhook"]["status"] == "DELIVERED"
            assert (deliveries["email"]["attempts"], deliveries["webhook"]["attempts"]) == (1, 2)
            await jobs.close()
            await jobs.database.close()
            await scheduler.store.close()
    finally:
        server.shutdown()
    (message,) = inbox.messages
    assert not [part for part in message.walk() if part.get_filename()]  # too large to attach: a link
    text = (
        next(part for part in message.walk() if part.get_content_type() == "text/plain")
        .get_payload(decode=True)
        .decode()
    )
    link = next(word for word in text.split() if word.startswith("https://analytics.example/"))
    assert "too large to attach" in text and "&signature=" in link
    headers, body = Hooks.received[-1]
    notice = json.loads(body)
    assert (notice["event"], notice["status"], notice["format"]) == ("report.generated", "COMPLETED", "EXCEL")
    assert notice["reportUrl"] == link
    signer = Signer("s" * 40, salt="analytics-webhook", digest_method=hashlib.sha256)
    signed = headers["x-analytics-timestamp"].encode() + b"." + body
    assert signer.verify_signature(signed, headers["x-analytics-signature"])
    assert not signer.verify_signature(signed + b" ", headers["x-analytics-signature"])


async def test_a_run_of_a_scheduler_that_died_is_resumed_for_the_recipients_not_reached(
    lms_platform: tuple[ClickHouseTarget, list[Any]],
    tenants: list[Tenant],
    tmp_path: Path,
    smtp: tuple[Inbox, int],
) -> None:
    inbox, port = smtp
    t = tenants[0]
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'config.db'}"
    settings = report_settings(tmp_path, port)
    async with lms_client(lms_platform, database_url, settings) as http:
        _, made = await schedule(
            http,
            t.tenant_id,
            "0 6 * * *",
            "UTC",
            ["reached@example.com", "missed@example.com"],
            format="JSON",
        )
    moment = [datetime(2026, 3, 21, 6, 0, tzinfo=UTC)]
    due = datetime(2026, 3, 21, 6, 0, tzinfo=UTC)
    scheduler, jobs = scheduler_at(moment, database_url, settings, query_store(lms_platform), t.zone, "heir")
    # a scheduler claimed the due time, mailed one recipient and died (its beat stopped at 06:00)
    async with jobs.database.session() as session:
        row = await session.get(ReportSchedule, made["schedule_id"])
        assert row is not None
        row.next_run_at = datetime(2026, 3, 22, 6, 0, tzinfo=UTC)
        run = ScheduleRun(
            tenant_id=t.tenant_id,
            schedule_id=made["schedule_id"],
            due_at=due,
            started_at=due,
            runner="dead:1",
            status="RUNNING",
            heartbeat_at=due,
        )
        session.add(run)
        await session.flush()
        session.add(
            ReportDelivery(
                run_id=run.run_id, channel="email", recipient="reached@example.com", status="DELIVERED"
            )
        )
    moment[0] = due + timedelta(seconds=settings.report_heartbeat_s * 2)  # silent, not yet dead
    assert await scheduler.tick() == []
    moment[0] = due + timedelta(minutes=5)  # dead
    assert await scheduler.tick() == [run.run_id]
    assert await scheduler.tick() == []  # resumed once
    assert [m["To"] for m in inbox.messages] == ["missed@example.com"]
    async with jobs.database.session() as session:
        resumed = await session.get(ScheduleRun, run.run_id)
        assert resumed is not None and (resumed.status, resumed.runner) == ("COMPLETED", "heir")
        reached = (
            await session.scalars(select(ReportDelivery).where(ReportDelivery.run_id == run.run_id))
        ).all()
    assert sorted((d.recipient, d.status) for d in reached) == [
        ("missed@example.com", "DELIVERED"),
        ("reached@example.com", "DELIVERED"),
    ]
    await jobs.close()
    await jobs.database.close()
    await scheduler.store.close()
