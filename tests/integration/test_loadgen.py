"""``analytics loadgen`` against ``analytics dev``: what it reports accepted is exactly what is stored (the
learning platform's deliberate re-sends of a client id stored once), and it fails loudly when the gateway is
missing or answers errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest

from tests.conftest import free_port
from tests.support.auth import token
from tests.support.dev_process import Dev

pytestmark = pytest.mark.clickhouse
TABLES = {
    "events": "analytics_events",
    "performance": "performance_metrics",
    "usage": "usage_metrics",
    "activities": "activity_logs",
    "lms_entities": "lms_entity_upserts FINAL",
    "lms_activity": "lms_activity FINAL",
    "lms_telemetry": "lms_telemetry FINAL",
}


def loadgen(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "loadgen", "--no-progress", "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**(env or os.environ), "ANALYTICS_LOADGEN_TOKEN": token(roles=("service",))},
        check=False,
    )


def test_stored_counts_per_stream_equal_what_loadgen_reports_accepted(tmp_path: Path) -> None:
    dev = Dev(tmp_path)
    process = dev.start()
    try:
        done = loadgen(
            f"--url=http://127.0.0.1:{dev.port}",
            "--duration=4",
            "--users=25",
            "--history=21",
            "--concurrency=16",
            "--batch=50",
            "--gzip",
            "--seed=5",
            "--lms-students=60",
            "--lms-courses=4",
        )
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout.strip().splitlines()[-1])

        # paced: 1,500 events/s for 2 s is 30 batches of 100, spread over the 2 s
        paced_run = loadgen(
            f"--url=http://127.0.0.1:{dev.port}", "--streams=events", "--rate=1500", "--duration=2"
        )
        assert paced_run.returncode == 0, paced_run.stderr
        paced = json.loads(paced_run.stdout.strip().splitlines()[-1])
        assert paced["accepted"] == paced["sent"] == 3_000
        assert paced["duration_s"] >= 1.9

        # a wrong path prefix: the server answers 404 to every post, which must fail the run
        wrong = loadgen(f"--url=http://127.0.0.1:{dev.port}/nope", "--events=300", "--max-errors=3")
        assert wrong.returncode == 1, wrong.stdout
        assert json.loads(wrong.stdout.strip().splitlines()[-1])["errors"] > 0
    finally:
        process.terminate()
        process.wait(timeout=60)

    assert summary["ok"] and summary["errors"] == 0 and summary["rejected"] == 0
    accepted = {name: counts["accepted"] for name, counts in summary["streams"].items()}
    assert all(accepted.values()), accepted  # every stream was exercised
    assert summary["accepted"] == sum(accepted.values()) == summary["sent"]
    resent = {name: counts["resent"] for name, counts in summary["streams"].items()}
    queries = {name: f"SELECT count() FROM {table}" for name, table in TABLES.items()}
    queries["days"] = (
        "SELECT uniqExact(toDate(timestamp)), dateDiff('day', min(timestamp), max(timestamp)) "
        "FROM analytics_events"
    )
    queries["rollup"] = "SELECT sum(events) FROM rollup_user_events WHERE grain = 'daily'"
    stored = dev.query(queries)
    accepted["events"] += paced["accepted"]
    assert {name: stored[name][0][0] for name in TABLES} == {n: accepted[n] - resent[n] for n in TABLES}
    assert stored["rollup"] == [[accepted["events"]]]
    days, span = cast("list[int]", stored["days"][0])
    assert days >= 8 and span >= 14, (days, span)  # backdated over three weeks, not stamped "now"


def test_an_unreachable_gateway_fails_at_once() -> None:
    done = loadgen(f"--url=http://127.0.0.1:{free_port()}", "--duration=5")
    assert done.returncode == 2
    assert "no gateway answers" in done.stderr
