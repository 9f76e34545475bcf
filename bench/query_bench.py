"""``make bench-query``: the query API over a store filled through the processing steps, measured at two
sizes (default 1 M and 5 M events) so it shows whether dashboard time grows with the raw event count.

For each size: fill (``bench.query_load``, its own process), serve ``analytics query`` (result cache off,
so every request runs its statements), measure the fresh server's first seconds of dashboards apart
(``dashboard_first_seconds``), then a closed loop of concurrent requests per endpoint for random users;
p50/p99 per endpoint go to ``bench/results/query-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.common import auth_headers, query_server, save_result

ENDPOINTS = {
    "dashboard": "/analytics/dashboard/{user}?time_period=last_7_days",
    "performance_overview": "/analytics/performance/{user}/overview?time_period=last_30_days",
    "trends": "/analytics/trends/{user}?time_period=last_30_days",
    "events_listing": "/analytics/events?user_id={user}&limit=50",
}


COLD_S = 15.0
"""Seconds of dashboards measured first on a fresh server, reported apart from the warm runs."""


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1) if ordered else 0.0


async def measure(base: str, path: str, users: int, duration: float, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    rng = random.Random(3)
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=auth_headers()) as client:
        stop_at = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                user = f"bench_user_{rng.randint(1, users)}"
                started = time.perf_counter()
                response = await client.get(path.format(user=user))
                if response.status_code != 200:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": round(len(latencies) / duration, 1),
        "p50_ms": quantile(latencies, 0.5),
        "p99_ms": quantile(latencies, 0.99),
        "max_ms": quantile(latencies, 1.0),
    }


def serve_and_measure(url: str, folder: str, args: argparse.Namespace) -> dict[str, Any]:
    with query_server(url, folder) as base:
        # A fresh server is slower at first (caches of part indexes and marks start empty; ADR 0011 has
        # the measurement). Reported on its own, so the endpoint measured first does not absorb the
        # process's warm-up.
        results = {
            "dashboard_first_seconds": asyncio.run(
                measure(base, ENDPOINTS["dashboard"], args.users, COLD_S, args.concurrency)
            )
        }
        print("dashboard_first_seconds", results["dashboard_first_seconds"], file=sys.stderr)
        for name, path in ENDPOINTS.items():
            asyncio.run(measure(base, path, args.users, 2, args.concurrency))  # warm up
            results[name] = asyncio.run(measure(base, path, args.users, args.duration, args.concurrency))
            print(name, results[name], file=sys.stderr)
        return results


def fill(url: str, events: int, seed: int, args: argparse.Namespace, now: str) -> float:
    done = subprocess.run(
        [
            sys.executable, "-m", "bench.query_load", "--url", url, "--events", str(events),
            "--users", str(args.users), "--days", str(args.days), "--seed", str(seed), "--now", now,
        ],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    return float(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000000,5000000", help="cumulative event counts to measure at")
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--days", type=float, default=90)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per endpoint")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    now = datetime.now(UTC).isoformat()
    measured: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        url = f"chdb://{folder}/ch"
        loaded = 0
        for seed, size in enumerate(sizes, start=1):
            seconds = fill(url, size - loaded, seed, args, now)
            loaded = size
            measured[str(size)] = {
                "fill_s": round(seconds, 1),
                "endpoints": serve_and_measure(url, folder, args),
            }
    save_result(
        "query",
        {
            "events": sizes,
            "users": args.users,
            "history_days": args.days,
            "concurrency": args.concurrency,
            "duration_s_per_endpoint": args.duration,
            "result_cache": "off",
            "by_size": measured,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
