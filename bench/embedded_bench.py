"""``make bench-embedded``: ``analytics dev`` (gateway + in-process bus + chDB in one process) under
``analytics loadgen`` (events only, batches of 100, a separate process); afterwards the stored raw rows are
counted and must cover every acknowledged event. Results go to ``bench/results/embedded-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from bench.common import auth_env, free_port, save_result, wait_ready

COUNT_SCRIPT = (
    "import sys; from schemas.storage import open_client; c = open_client(sys.argv[1], 'analytics'); "
    "print(c.query('SELECT count() FROM analytics_events').result_rows[0][0])"
)


def loadgen_command(port: int, duration: float, concurrency: int, users: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "schemas.cli",
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--users", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"chdb://{folder}/ch"
        port = free_port()
        env = {**os.environ, "ANALYTICS_CLICKHOUSE_URL": url, "ANALYTICS_LOG_LEVEL": "WARNING", **auth_env()}
        server = subprocess.Popen(
            [sys.executable, "-m", "schemas.cli", "dev", "--port", str(port)],
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/readyz")
            load = subprocess.run(
                loadgen_command(port, args.duration, args.concurrency, args.users),
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
        finally:
            server.terminate()
            server.wait(timeout=120)
        if load.returncode != 0:
            print(load.stdout, load.stderr, sep="\n", file=sys.stderr)
            return 1
        stored = int(
            subprocess.run(
                [sys.executable, "-c", COUNT_SCRIPT, url], capture_output=True, text=True, check=True, env=env
            ).stdout.strip()
        )
    summary = json.loads(load.stdout.strip().splitlines()[-1])
    result = {
        "load": "analytics loadgen --streams events --batch 100",
        "duration_s": summary["duration_s"],
        "requests": summary["requests"],
        "events_accepted": summary["accepted"],
        "events_per_s": summary["events_per_s"],
        "requests_per_s": summary["requests_per_s"],
        "latency_ms": summary["latency_ms"],
        "statuses": summary["statuses"],
        "errors": summary["errors"],
        "concurrency": args.concurrency,
        "batch_size": 100,
        "users": args.users,
        "gzip": False,
        "events_stored": stored,
    }
    save_result("embedded", result)
    if stored < result["events_accepted"]:
        print(f"LOST EVENTS: {result['events_accepted']} acknowledged, {stored} stored", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
