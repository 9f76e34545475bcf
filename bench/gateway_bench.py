"""``make bench-gateway``: the gateway and the local broker under batches of 100 from a separate process.

Starts the gateway (uvicorn) against ``ANALYTICS_KAFKA_BOOTSTRAP`` on fresh topics, runs
``bench.http_load`` for ``--duration`` seconds, verifies the topic holds every acknowledged event, and
writes the figures to ``bench/results/gateway-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import uuid

from aiokafka import AIOKafkaConsumer

from bench.common import auth_env, free_port, save_result, wait_ready
from plumbing.kafka_admin import ensure_topics
from schemas.messages import unpack_batch
from schemas.topics import Stream, registry


async def events_in_topic(bootstrap: str, topic: str) -> tuple[int, int]:
    """(messages, events) in ``topic``, read from the beginning to the end offsets."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=f"bench-count-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.1)
        ends = await consumer.end_offsets(list(consumer.assignment()))
        messages = events = 0

        async def behind() -> bool:
            return any([await consumer.position(tp) < end for tp, end in ends.items()])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=1000, max_records=10000)).values():
                messages += len(records)
                events += sum(len(unpack_batch(record.value)) for record in records)
        return messages, events
    finally:
        await consumer.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="gateway worker processes")
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args()

    bootstrap = os.environ.get("ANALYTICS_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    prefix = f"bench-{uuid.uuid4().hex[:6]}."
    asyncio.run(ensure_topics(bootstrap, list(registry(prefix).values())))
    port = free_port()
    env = {
        **os.environ,
        "ANALYTICS_KAFKA_BOOTSTRAP": bootstrap,
        "ANALYTICS_TOPIC_PREFIX": prefix,
        "ANALYTICS_LOG_LEVEL": "WARNING",
        **auth_env(),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "ingest_gateway.main:create_app",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
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
                str(args.batch),
            ]
            + (["--gzip"] if args.gzip else []),
            capture_output=True,
            text=True,
            check=True,
            env=env,  # the load process sends the token minted for this run's secret
        )
    finally:
        server.terminate()
        server.wait(timeout=60)
    result = json.loads(load.stdout.strip().splitlines()[-1])
    refused = {status: n for status, n in result.get("statuses", {}).items() if status != "200"}
    if refused or not result["events_accepted"]:
        print(f"the gateway refused requests: {refused}; no result written", file=sys.stderr)
        return 1
    messages, in_topic = asyncio.run(events_in_topic(bootstrap, registry(prefix)[Stream.EVENTS].name))
    result.update(
        {
            "gateway_workers": args.workers,
            "events_in_topic": in_topic,
            "kafka_messages": messages,
            "kafka_bootstrap": bootstrap,
        }
    )
    save_result("gateway", result)
    if in_topic < result["events_accepted"]:
        print(
            f"LOST EVENTS: {result['events_accepted']} acknowledged but {in_topic} in the topic",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
