"""``make bench-embedded``: ``analytics dev`` (gateway + in-process bus + chDB in one process) under
``analytics loadgen`` (events only, batches of 100, a separate process), at each client count on a fresh
server and store (default 16, then 32: group commit makes throughput depend on how many requests share a
commit); after each, the stored raw rows are counted and must cover every acknowledged event. Results go
to ``bench/results/embedded-<UTC time>.json``, one entry per client count.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from typing import Any

from bench.common import auth_env, free_port, save_result, wait_ready

COUNT_SCRIPT = (
    "import sys; from plumbing.clickhouse import open_client; c = open_client(sys.argv[1], 'analytics'); "
    "print(c.query('SELECT count() FROM analytics_events').result_rows[0][0])"
)


def loadgen_command(port: int, duration: float, concurrency: int, users: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cli.main",
        "loadgen",
        f"--url=http://127.0.0.1:{port}",
        "--streams=events",
        "--batch=100",
        f"--duration={duration}",
        f"--concurrency={concurrency}",
        f"--users={users}",
        "--seed=7",
        "--no-progress",
        "--json",
    ]


def run_load(port: int, duration: float, concurrency: int, users: int, env: dict[str, str]) -> dict[str, Any]:
    load = subprocess.run(
        loadgen_command(port, duration, concurrency, users),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if load.returncode != 0:
        print(load.stdout, load.stderr, sep="\n", file=sys.stderr)
        raise SystemExit(1)
    summary: dict[str, Any] = json.loads(load.stdout.strip().splitlines()[-1])
    print(f"concurrency {concurrency}: {summary['events_per_s']:,.0f} events/s", file=sys.stderr)
    return {
        "concurrency": concurrency,
        "duration_s": summary["duration_s"],
        "requests": summary["requests"],
        "events_accepted": summary["accepted"],
        "events_per_s": summary["events_per_s"],
        "requests_per_s": summary["requests_per_s"],
        "latency_ms": summary["latency_ms"],
        "statuses": summary["statuses"],
        "errors": summary["errors"],
    }


def measure_fresh(concurrency: int, args: argparse.Namespace) -> dict[str, Any]:
    """One load against a fresh ``analytics dev`` on an empty store (a second load on the first one's
    store would also pay for merging its parts); the stored rows must cover every acknowledged event."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"chdb://{folder}/ch"
        port = free_port()
        env = {**os.environ, "ANALYTICS_CLICKHOUSE_URL": url, "ANALYTICS_LOG_LEVEL": "WARNING", **auth_env()}
        server = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "dev", "--port", str(port)],
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/readyz")
            run = run_load(port, args.duration, concurrency, args.users, env)
        finally:
            server.terminate()
            server.wait(timeout=120)
        run["events_stored"] = int(
            subprocess.run(
                [sys.executable, "-c", COUNT_SCRIPT, url], capture_output=True, text=True, check=True, env=env
            ).stdout.strip()
        )
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per concurrency")
    parser.add_argument(
        "--concurrency", default="16,32", help="comma-separated client counts, each against a fresh server"
    )
    parser.add_argument("--users", type=int, default=5000)
    args = parser.parse_args()
    runs = [measure_fresh(int(level), args) for level in args.concurrency.split(",")]
    save_result(
        "embedded",
        {
            "load": "analytics loadgen --streams events --batch 100",
            "batch_size": 100,
            "users": args.users,
            "gzip": False,
            "runs": runs,
        },
    )
    lost = [run for run in runs if run["events_stored"] < run["events_accepted"]]
    for run in lost:
        print(
            f"LOST EVENTS at concurrency {run['concurrency']}: {run['events_accepted']} acknowledged, "
            f"{run['events_stored']} stored",
            file=sys.stderr,
        )
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
