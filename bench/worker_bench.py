"""``make bench-worker``: events/s of one worker process (raw + rollups agent groups) draining a
pre-filled topic until every offset is committed, on the local broker and chDB.

The topic is filled the way the gateway fills it: requests of 100 events over 5,000 users, one message
per request and partition. ``--client-keyed F``: that fraction of the events carry client-chosen ids (as
with an ``id`` field or an ``Idempotency-Key``), which the workers look up in their ledger (ADR 0013).
Results go to ``bench/results/worker-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.common import save_result
from ingest_gateway.partitioner import partition_of
from plumbing.kafka_admin import ensure_topics
from plumbing.kafka_lag import consumer_lag
from schemas.messages import encode_batch, format_time
from schemas.topics import Stream, registry

PARTITIONS = 6


def event(rng: random.Random, now: datetime, client_keyed: float = 0.0) -> dict[str, Any]:
    user = f"user_{rng.randrange(5000)}"
    return {
        "tenant_id": "default",
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "user_id": user,
        "session_id": f"s_{user}_{rng.randrange(5)}",
        "event_type": "user_action",
        "event_name": rng.choice(["page_view", "button_click", "asset_upload"]),
        "event_category": rng.choice(["navigation", "interaction"]),
        "properties": {"page": f"/page/{rng.randrange(200)}"},
        "source": "web_app",
        "platform": "web",
        "user_agent": "Mozilla/5.0",
        "ip_address": None,
        "location": None,
        "sent_at": None,
        "timestamp": format_time(now - timedelta(seconds=rng.randrange(30 * 86400))),
        "received_at": format_time(now),
        "time_clamped": False,
        "schema_version": 1,
        "client_keyed": rng.random() < client_keyed,
    }


async def prefill(bootstrap: str, topic: str, total: int, client_keyed: float) -> int:
    rng = random.Random(1)
    now = datetime.now(UTC)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, compression_type="lz4")
    await producer.start()
    messages = 0
    try:
        pending = []
        for _ in range(total // 100):
            groups: dict[int, list[dict[str, Any]]] = {}
            for item in (event(rng, now, client_keyed) for _ in range(100)):
                key = f"default:{item['user_id']}".encode()
                groups.setdefault(partition_of(key, PARTITIONS), []).append(item)
            for partition, group in groups.items():
                pending.append(await producer.send(topic, encode_batch(group), partition=partition))
                messages += 1
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return messages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--agents", default="raw,rollups")
    parser.add_argument("--client-keyed", type=float, default=0.0, help="fraction of events with client ids")
    args = parser.parse_args()
    bootstrap = os.environ.get("ANALYTICS_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    tag = uuid.uuid4().hex[:6]
    prefix, group_prefix = f"wbench-{tag}.", f"wbench-{tag}-"
    topics = registry(prefix, PARTITIONS)
    asyncio.run(ensure_topics(bootstrap, list(topics.values())))
    messages = asyncio.run(prefill(bootstrap, topics[Stream.EVENTS].name, args.events, args.client_keyed))
    with tempfile.TemporaryDirectory() as data:
        env = {
            **os.environ,
            "ANALYTICS_KAFKA_BOOTSTRAP": bootstrap,
            "ANALYTICS_TOPIC_PREFIX": prefix,
            "ANALYTICS_WORKER_GROUP_PREFIX": group_prefix,
            "ANALYTICS_CLICKHOUSE_URL": f"chdb://{data}/ch",
            "ANALYTICS_WORKER_DATA_DIR": f"{data}/faust",
            "ANALYTICS_LOG_LEVEL": "WARNING",
        }
        subprocess.run(
            [sys.executable, "-m", "cli.main", "migrate"], env=env, check=True, capture_output=True
        )
        groups = [f"{group_prefix}{g}" for g in args.agents.split(",")]
        started = time.perf_counter()
        worker = subprocess.Popen(
            [sys.executable, "-m", "stream_processors", "worker", "--agents", args.agents], env=env
        )
        first_progress: float | None = None
        left_at_first_progress = messages * len(groups)
        try:
            while True:
                remaining = sum(
                    asyncio.run(consumer_lag(bootstrap, groups, [topics[Stream.EVENTS].name])).values()
                )
                if first_progress is None and remaining < messages * len(groups):
                    first_progress = time.perf_counter()
                    left_at_first_progress = remaining
                if remaining == 0:
                    break
                if worker.poll() is not None:
                    raise SystemExit("worker exited before catching up")
                time.sleep(0.5)
            finished = time.perf_counter()
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    total_s = finished - started
    busy_s = finished - (first_progress or started)
    # events handled after the first commit (messages carry equal shares of events on average)
    busy_events = args.events * left_at_first_progress / (messages * len(args.agents.split(",")))
    result = {
        "agents": args.agents,
        "events": args.events,
        "client_keyed_fraction": args.client_keyed,
        "kafka_messages": messages,
        "seconds_including_startup": round(total_s, 2),
        "events_per_s_including_startup": round(args.events / total_s, 1),
        "seconds_from_first_commit": round(busy_s, 2),
        "events_per_s": round(busy_events / busy_s, 1),
        "clickhouse": "chdb (embedded)",
        "batch_max_messages": int(os.environ.get("ANALYTICS_WORKER_BATCH_MAX_MESSAGES", "5000")),
    }
    save_result("worker", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
