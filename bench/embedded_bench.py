"""``make bench-embedded``: ``analytics dev`` (gateway + in-process bus + chDB in one process) under
batches of 100 from a separate load process; afterwards the stored raw rows are counted. Results go to
``bench/results/embedded-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from bench.common import free_port, save_result, wait_ready

COUNT_SCRIPT = (
    "import sys; from schemas.storage import open_client; c = open_client(sys.argv[1], 'analytics'); "
    "print(c.query('SELECT count() FROM analytics_events').result_rows[0][0])"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"chdb://{folder}/ch"
        port = free_port()
        env = {**os.environ, "ANALYTICS_CLICKHOUSE_URL": url, "ANALYTICS_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [sys.executable, "-m", "schemas.cli", "dev", "--port", str(port)],
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/readyz")
            load = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.http_load",
                    "--url",
                    f"http://127.0.0.1:{port}/analytics/events/batch",
                    "--duration",
                    str(args.duration),
                    "--concurrency",
                    str(args.concurrency),
                    "--batch",
                    "100",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
        finally:
            server.terminate()
            server.wait(timeout=120)
        stored = int(
            subprocess.run(
                [sys.executable, "-c", COUNT_SCRIPT, url], capture_output=True, text=True, check=True, env=env
            ).stdout.strip()
        )
    result = json.loads(load.stdout.strip().splitlines()[-1])
    result["events_stored"] = stored
    save_result("embedded", result)
    if stored < result["events_accepted"]:
        print(f"LOST EVENTS: {result['events_accepted']} acknowledged, {stored} stored", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
