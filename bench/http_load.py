"""A closed-loop HTTP load process: N connections post pre-built event batches for a fixed time.

Run as its own process (``python -m bench.http_load``) so the load does not share an event loop or a
core with the server under test. Prints one JSON line of results.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import random
import sys
import time
import uuid

import httpx
import orjson

from bench.common import auth_headers

PAGES = [f"/page/{i}" for i in range(200)]


def build_batches(count: int, size: int, compress: bool, seed: int = 7) -> list[bytes]:
    """``count`` distinct batch bodies of ``size`` events each (realistic shape, many users)."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        events = []
        for _ in range(size):
            user = f"user_{rng.randrange(5000)}"
            events.append(
                {
                    "user_id": user,
                    "session_id": f"s_{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}",
                    "event_type": "user_action",
                    "event_name": rng.choice(["page_view", "button_click", "asset_upload", "project_open"]),
                    "event_category": rng.choice(["navigation", "interaction", "projects", "assets"]),
                    "properties": {"page": rng.choice(PAGES), "button_id": f"b{rng.randrange(50)}"},
                    "source": "web_app",
                    "platform": "web",
                    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0",
                }
            )
        body = orjson.dumps({"events": events})
        bodies.append(gzip.compress(body, 5) if compress else body)
    return bodies


async def run(url: str, duration: float, concurrency: int, batch: int, compress: bool) -> dict[str, object]:
    bodies = build_batches(64, batch, compress)
    headers = {"content-type": "application/json", **auth_headers()}
    if compress:
        headers["content-encoding"] = "gzip"
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    accepted = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        stop_at = time.perf_counter() + duration

        async def worker(offset: int) -> None:
            nonlocal errors, accepted
            index = offset
            while time.perf_counter() < stop_at:
                body = bodies[index % len(bodies)]
                index += 1
                started = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 200:
                    accepted += orjson.loads(response.content)["data"]["processed_count"]

        began = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()

    def quantile(q: float) -> float:
        return (
            round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2) if latencies else 0.0
        )

    return {
        "duration_s": round(elapsed, 2),
        "requests": len(latencies),
        "events_accepted": accepted,
        "events_per_s": round(accepted / elapsed, 1),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "latency_ms": {
            "p50": quantile(0.50),
            "p90": quantile(0.90),
            "p99": quantile(0.99),
            "max": quantile(1.0),
        },
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "transport_errors": errors,
        "concurrency": concurrency,
        "batch_size": batch,
        "gzip": compress,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args.url, args.duration, args.concurrency, args.batch, args.gzip))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
