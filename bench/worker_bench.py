"""``make bench-worker``: events/s of one worker process (the agent groups of ``--agents``) draining a
pre-filled topic until every offset is committed, on the local broker and chDB.

The topic of ``--stream`` is filled the way the gateway fills it: requests of 100 events, one message per
request and partition (partitioned by ``tenant_id:user_id``).

- ``events`` (default): page views and clicks over 5,000 users. ``--client-keyed F``: that fraction of the
  events carry client-chosen ids (as with an ``id`` field or an ``Idempotency-Key``), which the workers
  look up in their ledger (ADR 0013).
- ``lms_activity``, ``lms_entities``, ``lms_telemetry``: that stream's items of generated learning
  platforms (:func:`loadgen.lms_platform.generate_platform`, three tenants in three zones, one seed after
  the other until there are enough, each term ending a week ago), in delivery order, validated and stamped
  by the gateway's own :func:`ingest_gateway.stamping.stamp`. The items the generator gives a client id
  (xAPI statement ids: about a third of the activity) keep it, so the workers' ledger looks them up; the
  result's ``client_keyed_fraction`` says how many there were.

``--repeat N`` (default 1): drain the same pre-filled topic N times, each time by a fresh worker process in
fresh consumer groups on an empty store, one after the other. These machines are noisy (the same drain
varies by a third from one minute to the next), so the result gives every run and their median
(``events_per_s``), and the CPU the worker process spent per event (``cpu_us_per_event``, all its threads:
the embedded store's too; ``main_thread_cpu_us_per_event``: decoding, transforming and Faust), which
varies less than the wall-clock rate.

``--profile FILE``: run the worker under cProfile (its main thread) and write the stats to ``FILE``.
Results go to ``bench/results/worker-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.common import save_result
from ingest_gateway.partitioner import partition_of
from ingest_gateway.stamping import stamp
from loadgen.lms_platform import DEFAULT_TENANTS, generate_platform
from plumbing.kafka_admin import ensure_topics
from plumbing.kafka_lag import consumer_lag
from schemas.lms_payloads import LMS_PAYLOADS
from schemas.messages import encode_batch, format_time
from schemas.topics import LMS_STREAMS, Stream, message_key, registry

PARTITIONS = 6
REQUEST_EVENTS = 100
MIN_BUSY_S = 2.0
"""The shortest drain after the first commit that gives an ``events_per_s`` (else ``null``)."""
STREAMS = [Stream.EVENTS, *LMS_STREAMS]


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


def event_requests(total: int, client_keyed: float) -> Iterator[list[dict[str, Any]]]:
    """Requests of :data:`REQUEST_EVENTS` stamped page views and clicks."""
    rng = random.Random(1)
    now = datetime.now(UTC)
    for _ in range(total // REQUEST_EVENTS):
        yield [event(rng, now, client_keyed) for _ in range(REQUEST_EVENTS)]


def lms_requests(stream: Stream, total: int) -> Iterator[list[dict[str, Any]]]:
    """Requests of up to :data:`REQUEST_EVENTS` items of ``stream`` of generated platforms (seed 1, 2, …),
    each tenant's in delivery order, stamped as the gateway stamps them; ``total`` items in all.
    Telemetry comes from platforms without activity and a longer term (the samples are all it needs)."""
    now = datetime.now(UTC)
    term_days = 210 if stream is Stream.LMS_TELEMETRY else 105
    term_start = (now - timedelta(days=term_days + 7)).date()
    scale = 0.0 if stream is Stream.LMS_TELEMETRY else 1.0
    payload = LMS_PAYLOADS[stream]
    left = total
    seed = 0
    while left > 0:
        seed += 1
        platforms = generate_platform(seed, term_start=term_start, term_days=term_days, activity_scale=scale)
        for platform in platforms:
            bodies = [item.body for item in platform.items if item.stream is stream]
            for start in range(0, min(len(bodies), left), REQUEST_EVENTS):
                chunk = bodies[start : min(start + REQUEST_EVENTS, left)]
                yield [stamp(payload.model_validate(body), platform.tenant_id, now) for body in chunk]
            left -= min(len(bodies), left)


async def prefill(
    bootstrap: str, topic: str, requests: Iterator[list[dict[str, Any]]]
) -> tuple[int, int, int]:
    """Each request as the gateway sends it: one message per partition; returns (messages, events, events
    with a client-chosen id)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, compression_type="lz4", enable_idempotence=True
    )
    await producer.start()
    messages = events = keyed = 0
    try:
        pending = []
        for request in requests:
            groups: dict[int, list[dict[str, Any]]] = {}
            for item in request:
                key = message_key(item["tenant_id"], item["user_id"])
                groups.setdefault(partition_of(key, PARTITIONS), []).append(item)
            for partition, group in groups.items():
                pending.append(await producer.send(topic, encode_batch(group), partition=partition))
                messages += 1
            events += len(request)
            keyed += sum(1 for item in request if item["client_keyed"])
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return messages, events, keyed


def _cpu_seconds(stat_path: str) -> float | None:
    """User + system CPU seconds of a process or thread (``/proc/<pid>[/task/<tid>]/stat``); ``None`` once
    it is gone or where there is no ``/proc``."""
    try:
        with open(stat_path) as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drain(
    bootstrap: str, prefix: str, topic: str, agents: str, messages: int, events: int, profile: str | None
) -> dict[str, Any]:
    """One worker process (fresh consumer groups, empty store) drains the topic; returns its timings."""
    group_prefix = f"wbench-{uuid.uuid4().hex[:6]}-"
    groups = [f"{group_prefix}{g}" for g in agents.split(",")]
    with tempfile.TemporaryDirectory() as data:
        env = {
            **os.environ,
            "ANALYTICS_KAFKA_BOOTSTRAP": bootstrap,
            "ANALYTICS_TOPIC_PREFIX": prefix,
            "ANALYTICS_WORKER_GROUP_PREFIX": group_prefix,
            "ANALYTICS_CLICKHOUSE_URL": f"chdb://{data}/ch",
            "ANALYTICS_WORKER_DATA_DIR": f"{data}/faust",
            "ANALYTICS_WORKER_METRICS_PORT": "0",
            "ANALYTICS_LOG_LEVEL": "WARNING",
            "ANALYTICS_TENANT_TIMEZONES": json.dumps(dict(DEFAULT_TENANTS)),
        }
        subprocess.run(
            [sys.executable, "-m", "cli.main", "migrate"], env=env, check=True, capture_output=True
        )
        started = time.perf_counter()
        profiled = ["-m", "cProfile", "-o", profile] if profile else []
        worker = subprocess.Popen(
            [sys.executable, *profiled, "-m", "stream_processors", "worker", "--agents", agents], env=env
        )
        process_stat, main_stat = f"/proc/{worker.pid}/stat", f"/proc/{worker.pid}/task/{worker.pid}/stat"
        first_progress: float | None = None
        left_at_first_progress = messages * len(groups)
        cpu_at_first = main_at_first = cpu_last = main_last = None
        try:
            while True:
                remaining = sum(asyncio.run(consumer_lag(bootstrap, groups, [topic])).values())
                if first_progress is None and remaining < messages * len(groups):
                    first_progress = time.perf_counter()
                    left_at_first_progress = remaining
                    cpu_at_first, main_at_first = _cpu_seconds(process_stat), _cpu_seconds(main_stat)
                cpu_last, main_last = _cpu_seconds(process_stat), _cpu_seconds(main_stat)
                if remaining == 0:
                    break
                if worker.poll() is not None:
                    raise SystemExit("worker exited before catching up")
                time.sleep(0.2)
            finished = time.perf_counter()
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    total_s = finished - started
    busy_s = finished - (first_progress or started)
    # events handled after the first commit (messages carry equal shares of events on average); a drain of
    # a few commits in all (large messages: telemetry) leaves too short a window to tell
    busy_events = events * left_at_first_progress / (messages * len(groups))

    def per_event(first: float | None, last: float | None) -> float | None:
        if first is None or last is None or not busy_events:
            return None
        return round((last - first) / busy_events * 1e6, 1)

    return {
        "seconds_including_startup": round(total_s, 2),
        "events_per_s_including_startup": round(events / total_s, 1),
        "seconds_from_first_commit": round(busy_s, 2),
        "events_per_s": round(busy_events / busy_s, 1) if busy_s >= MIN_BUSY_S else None,
        "cpu_us_per_event": per_event(cpu_at_first, cpu_last),
        "main_thread_cpu_us_per_event": per_event(main_at_first, main_last),
    }


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [run[key] for run in runs if run[key] is not None]
    return round(statistics.median(values), 1) if values else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--agents", default="raw,rollups")
    parser.add_argument("--stream", choices=[s.value for s in STREAMS], default=Stream.EVENTS.value)
    parser.add_argument(
        "--client-keyed", type=float, default=0.0, help="fraction of events with client ids (events stream)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="drains of the same topic (median reported)")
    parser.add_argument("--profile", help="write the worker's cProfile stats to this file")
    args = parser.parse_args()
    stream = Stream(args.stream)
    if args.client_keyed and stream is not Stream.EVENTS:
        parser.error("--client-keyed is for the events stream (LMS items keep the generator's client ids)")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    bootstrap = os.environ.get("ANALYTICS_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    prefix = f"wbench-{uuid.uuid4().hex[:6]}."
    topics = registry(prefix, PARTITIONS)
    asyncio.run(ensure_topics(bootstrap, list(topics.values())))
    topic = topics[stream].name
    requests = (
        event_requests(args.events, args.client_keyed)
        if stream is Stream.EVENTS
        else lms_requests(stream, args.events)
    )
    filling = time.perf_counter()
    messages, events, keyed = asyncio.run(prefill(bootstrap, topic, requests))
    fill_s = time.perf_counter() - filling
    runs = [
        drain(bootstrap, prefix, topic, args.agents, messages, events, args.profile if run == 0 else None)
        for run in range(args.repeat)
    ]
    result = {
        "stream": stream.value,
        "agents": args.agents,
        "events": events,
        "client_keyed_fraction": round(keyed / events, 3),
        "kafka_messages": messages,
        "prefill_seconds": round(fill_s, 2),
        "events_per_s": _median(runs, "events_per_s"),
        "cpu_us_per_event": _median(runs, "cpu_us_per_event"),
        "main_thread_cpu_us_per_event": _median(runs, "main_thread_cpu_us_per_event"),
        "seconds_from_first_commit": _median(runs, "seconds_from_first_commit"),
        "events_per_s_including_startup": _median(runs, "events_per_s_including_startup"),
        "runs": runs,
        "clickhouse": "chdb (embedded)",
        "batch_max_messages": int(os.environ.get("ANALYTICS_WORKER_BATCH_MAX_MESSAGES", "5000")),
        "store_connections": int(os.environ.get("ANALYTICS_WORKER_STORE_CONNECTIONS", "2")),
    }
    save_result("worker", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
