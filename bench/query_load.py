"""Fill a store for ``make bench-query``: synthetic traffic (the loadgen's model, backdated over weeks)
through the real processing steps (decode → transforms → raw and rollup-feed inserts), never hand-made
rollup rows. Run as its own process: chDB lets one process own a data directory."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import datetime
from typing import Any

from loadgen.traffic import TrafficModel
from plumbing.clickhouse import open_client
from plumbing.migrate import migrate
from plumbing.settings import ZoneLookup
from plumbing.storage import Storage
from schemas.messages import encode_batch
from schemas.rows import feed_rows, raw_rows
from schemas.topics import Stream
from stream_processors.pipeline import Delivery, decode

BATCH = 20_000


def stamp(body: dict[str, Any], tenant: str, received: str) -> dict[str, Any]:
    """The server fields the gateway would add (the model's bodies carry backdated event times)."""
    return {
        **body,
        "tenant_id": tenant,
        "id": str(uuid.uuid4()),
        "received_at": received,
        "schema_version": 1,
    }


async def fill(url: str, events: int, users: int, days: float, seed: int, now: datetime) -> float:
    client = open_client(url, "analytics", create_database=True)
    migrate(client)
    client.close()
    storage = Storage(lambda: open_client(url, "analytics"))
    zones = ZoneLookup("UTC", {})
    model = TrafficModel(seed=seed, users=users, history_days=days, now=now, user_prefix="bench_user_")
    received = now.isoformat()
    pending: dict[Stream, list[dict[str, Any]]] = {stream: [] for stream in Stream}
    started, written = time.perf_counter(), 0

    async def flush(stream: Stream) -> None:
        rows = pending[stream]
        if not rows:
            return
        decoded, letters = decode(stream, [Delivery("bench", 0, written, encode_batch(rows))])
        assert not letters, letters[0].error
        for table in [*raw_rows(stream, decoded), *feed_rows(stream, decoded, zones)]:
            await storage.insert(table, f"bench/{seed}/{written}/{table.table}")
        pending[stream] = []

    for item in model.items():
        body = item.body
        if item.stream is Stream.USAGE:
            body = {key: value for key, value in body.items() if key != "timestamp"}
        pending[item.stream].append(stamp(body, "default", received))
        written += 1
        if len(pending[item.stream]) >= BATCH:
            await flush(item.stream)
            print(f"\r{written:,} events", end="", file=sys.stderr, flush=True)
        if written >= events:
            break
    for stream in Stream:
        await flush(stream)
    storage.close()
    elapsed = time.perf_counter() - started
    settle(url)
    print(f"\r{written:,} events in {elapsed:.0f} s ({written / elapsed:,.0f}/s)", file=sys.stderr)
    return elapsed


def settle(url: str, quiet_polls: int = 4, limit_s: float = 600) -> None:
    """Wait until no merge has run for ``quiet_polls`` half-second polls, so the query measurement sees a
    store in its steady state (chDB merges only while a process holds the store: the fill's leftovers
    would otherwise be merged by the query server during the measurement)."""
    client = open_client(url, "analytics")
    started, quiet = time.perf_counter(), 0
    while quiet < quiet_polls and time.perf_counter() - started < limit_s:
        running = client.query("SELECT count() FROM system.merges").result_rows[0][0]
        quiet = quiet + 1 if running == 0 else 0
        time.sleep(0.5)
    parts = client.query("SELECT count() FROM system.parts WHERE active AND database = 'analytics'")
    print(
        f"merges settled in {time.perf_counter() - started:.0f} s; {parts.result_rows[0][0]} active parts",
        file=sys.stderr,
    )
    client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--days", type=float, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--now", default="2026-11-27T12:00:00+00:00")
    args = parser.parse_args()
    elapsed = asyncio.run(
        fill(args.url, args.events, args.users, args.days, args.seed, datetime.fromisoformat(args.now))
    )
    print(f"{elapsed:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
