"""Demo data for ``analytics dev --demo``: six weeks of traffic, sent once, through the real intake: the
product's users and a small learning platform (institutes, courses, teachers, students, a six-week term
ending today), so a newcomer sees product and LMS numbers at once.

The load generator runs as a subprocess (its own core, the same HTTP path as any client) against the
server's own port once it answers, one stream after the other over the same seeded sessions and platform:
a commit of one stream writes a few tables, a commit mixing all of them writes dozens, and a commit's cost
is mostly per table and view (ADR 0008), so one stream at a time fills faster than mixed traffic. The
learning platform's entities go first, so its first numbers already have their courses and students.
A store that already holds events is left alone, so a restart adds nothing, and the process says so and
how to get the demo (a fresh store); an interrupted fill is not resumed (delete the store directory to
start over). While it loads, the server's per-request access log is paused (tens of thousands of lines
would bury everything else) and one line per stream reports progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx

from loadgen.options import TOKEN_ENV
from plumbing.clickhouse import parse_url
from plumbing.storage import Storage
from schemas.topics import LMS_STREAMS, PRODUCT_STREAMS, Stream

ACCESS_LOGGER = "uvicorn.access"

DEMO_USERS = 40
DEMO_SESSIONS = 2_400
"""About 30,000 items (varying a little with the day it runs): some 26,000 events, 2,600 web-vitals
reports, 1,000 usage summaries and 700 activities."""
DEMO_DAYS = 42
DEMO_USER_PREFIX = "demo_user_"
DEMO_LMS_STUDENTS = 150
DEMO_LMS_COURSES = 8
"""About 11,000 items: 1,600 entity documents, 8,600 learning activities and 700 telemetry samples."""


def loadgen_command(base_url: str, stream: Stream) -> list[str]:
    """The load generator run sending the demo's items of ``stream``."""
    if stream in LMS_STREAMS:
        size = [f"--lms-students={DEMO_LMS_STUDENTS}", f"--lms-courses={DEMO_LMS_COURSES}"]
    else:
        size = [f"--users={DEMO_USERS}", f"--sessions={DEMO_SESSIONS}", f"--user-prefix={DEMO_USER_PREFIX}"]
    return [
        sys.executable,
        "-m",
        "cli.main",
        "loadgen",
        f"--url={base_url}",
        *size,
        f"--streams={stream.value}",
        f"--history={DEMO_DAYS}",
        "--seed=42",
        "--concurrency=32",
        "--no-progress",
        "--json",
    ]


DEMO_STREAMS = (*PRODUCT_STREAMS, *LMS_STREAMS)
"""In the order they are sent (the learning platform's entities before its activity)."""


def not_empty_message(existing: int, store_url: str, database: str) -> str:
    """Why ``--demo`` added nothing, and how to get the demo: a store of its own."""
    target = parse_url(store_url)
    if target.is_embedded:
        fresh = (
            "start on a fresh store, e.g. `ANALYTICS_CLICKHOUSE_URL=chdb://./var/demo make run DEMO=1` "
            f"(or stop the server and delete {target.location})"
        )
    else:
        fresh = "start on a fresh database, e.g. ANALYTICS_CLICKHOUSE_DATABASE=demo"
    return (
        f"demo: no demo data added: database {database} at {store_url} already holds {existing:,} events, "
        f"and demo data only fills an empty store (so a restart never adds it twice). For the demo, {fresh}."
    )


class _DropAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextlib.contextmanager
def access_log_paused() -> Iterator[None]:
    """Drop uvicorn's access log lines (and httpx's request lines) while the demo loads."""
    drop, access, client = _DropAll(), logging.getLogger(ACCESS_LOGGER), logging.getLogger("httpx")
    access.addFilter(drop)
    client.addFilter(drop)
    try:
        yield
    finally:
        access.removeFilter(drop)
        client.removeFilter(drop)


async def _wait_until_serving(base_url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=base_url, timeout=2.0) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server did not answer at {base_url} within {timeout_s:g} s")
            await asyncio.sleep(0.2)


async def fill_if_empty(
    storage: Storage, base_url: str, token: str, store_url: str, database: str = "analytics"
) -> None:
    """Post the demo traffic to ``base_url`` (as ``token``'s principal) unless the store holds events;
    ``store_url`` and ``database`` only name the store in the message when it does."""
    existing = int((await storage.query("SELECT count() FROM analytics_events"))[0][0])
    if existing:
        print(not_empty_message(existing, store_url, database), flush=True)
        return
    with access_log_paused():
        await _wait_until_serving(base_url)
        print(
            f"demo: posting {DEMO_DAYS} days of traffic of {DEMO_USERS} users "
            f"({DEMO_USER_PREFIX}1 … {DEMO_USER_PREFIX}{DEMO_USERS}) and of a learning platform of "
            f"{DEMO_LMS_STUDENTS} students in {DEMO_LMS_COURSES} courses to {base_url}, one stream after "
            "the other; the access log is paused until it is done ...",
            flush=True,
        )
        started = time.monotonic()
        accepted: dict[str, int] = {}
        for number, stream in enumerate(DEMO_STREAMS, start=1):
            summary = await _run_loadgen(loadgen_command(base_url, stream), token)
            if summary is None:
                print(f"demo: the load generator failed on {stream.value}; see above", flush=True)
                return
            # deliberate re-sends of a client id (LMS traffic) are accepted again but stored once
            accepted[stream.value] = summary["accepted"] - summary.get("resent", 0)
            print(
                f"demo: {number}/{len(DEMO_STREAMS)} {stream.value}: {accepted[stream.value]:,} stored "
                f"({time.monotonic() - started:.1f} s)",
                flush=True,
            )
    streams = ", ".join(f"{name} {count:,}" for name, count in accepted.items())
    print(
        f"demo data ready: {sum(accepted.values()):,} events ({streams}) over {DEMO_DAYS} days "
        f"in {time.monotonic() - started:.1f} s",
        flush=True,
    )
    report = await _demo_report(base_url, token)
    if report is not None:
        print(
            f"demo: report {report} (system usage per day, last 30 days) is scheduled every Monday 07:00; "
            f"generate it now: POST {base_url}/api/admin/reports/{report}/generate",
            flush=True,
        )


DEMO_REPORT = {
    "report_name": "Weekly system usage",
    "report_type": "SYSTEM_USAGE",
    "report_description": "the demo's report: the platform's usage per day over the last 30 days",
    "report_config": {"period": "LAST_30_DAYS", "granularity": "DAILY"},
}
DEMO_SCHEDULE = {
    "schedule_name": "Mondays at 07:00",
    "cron_expression": "0 7 * * MON",
    "timezone": "UTC",
    "recipients": ["ops@example.com"],
    "schedule_config": {"format": "PDF"},
}


async def _demo_report(base_url: str, token: str) -> int | None:
    """Create the demo's report and its schedule (sent when an SMTP server is configured); its id."""
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0, headers=headers) as client:
        made = await client.post("/api/admin/reports", json=DEMO_REPORT)
        if made.status_code != 201:
            print(f"demo: the demo report was refused ({made.status_code}): {made.text[:300]}", flush=True)
            return None
        report_id = int(made.json()["data"]["report_id"])
        scheduled = await client.post(f"/api/admin/reports/{report_id}/schedule", json=DEMO_SCHEDULE)
        if scheduled.status_code != 201:
            print(f"demo: the demo schedule was refused ({scheduled.status_code})", flush=True)
        return report_id


async def _run_loadgen(command: list[str], token: str) -> dict[str, Any] | None:
    """The JSON summary of one load generator run, or None when it failed."""
    env = {**os.environ, TOKEN_ENV: token}
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE, env=env)
    try:
        output, _ = await process.communicate()
    except asyncio.CancelledError:  # the server is stopping: do not leave the load generator behind
        process.kill()
        await process.wait()
        raise
    lines = output.decode().strip().splitlines()
    if process.returncode != 0 or not lines:
        return None
    summary: dict[str, Any] = json.loads(lines[-1])
    return summary
