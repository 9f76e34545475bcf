"""The operator's view of the real pipeline: a gateway, a worker process running both agent groups on the real
broker, then a query API on the same store, each scraped on its ``/metrics``. Every series that
docs/operations.md lists for a service is exposed by it, and the values are those of the load: the events
the gateway accepted are the events each group stored, consumer lag is 0 once the groups caught up,
freshness has observations, and a poison message moves the dead-letter counter of the raw group alone.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from plumbing.kafka_lag import consumer_lag
from schemas.topics import Stream, registry
from tests.conftest import free_port
from tests.support.auth import bearer
from tests.support.kafka_worker import Deployment

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]
OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
SERIES_ROW = re.compile(r"^\| `(analytics_\w+)` \| (counter|gauge|histogram) \|", re.MULTILINE)
USERS, EVENTS_PER_USER = 12, 25
KAFKA_ONLY = {
    "analytics_worker_consumer_lag_messages",
    "analytics_worker_assigned_partitions",
    "analytics_worker_commit_duration_seconds",
    "analytics_worker_last_commit_timestamp_seconds",
    "analytics_worker_ready",
}


def documented(prefix: str) -> dict[str, str]:
    """Series name → type, of docs/operations.md's table, for one service's prefix."""
    return {
        name: kind for name, kind in SERIES_ROW.findall(OPERATIONS.read_text()) if name.startswith(prefix)
    }


def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample of a ``/metrics`` answer by sample name (``*_total``, ``*_bucket``, ...), plus an empty
    entry per family name, so families without samples yet count as exposed."""
    text = httpx.get(url, timeout=10).raise_for_status().text
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        samples.setdefault(family.name, [])
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def total(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(v for got, v in samples.get(name, []) if all(got.get(k) == w for k, w in labels.items()))


def exposed(samples: dict[str, list[tuple[dict[str, str], float]]], name: str) -> bool:
    """A family is parsed without its ``_total`` suffix; histograms by their base name."""
    return name in samples or name.removesuffix("_total") in samples


def wait_http(url: str, deadline_s: float = 60) -> httpx.Response:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            answer = httpx.get(url, timeout=5)
            if answer.status_code == 200:
                return answer
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} never answered 200"
        time.sleep(0.3)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
    for process in started:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def test_every_documented_series_is_exposed_with_the_values_of_the_load(
    kafka_bootstrap: str, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    tag = uuid.uuid4().hex[:8]
    deployment = Deployment(
        kafka_bootstrap, f"ops-{tag}.", f"ops-{tag}-", f"chdb://{tmp_path / 'ch'}", "analytics"
    )
    gateway_port, worker_port, query_port = free_port(), free_port(), free_port()
    env = {
        **deployment.env(),
        "ANALYTICS_GATEWAY_PORT": str(gateway_port),
        "ANALYTICS_QUERY_PORT": str(query_port),
        "ANALYTICS_WORKER_METRICS_PORT": str(worker_port),
        "BROKER_COMMIT_INTERVAL": "0.5",
        "ANALYTICS_WORKER_DATA_DIR": str(tmp_path / "faust"),
    }
    run = [sys.executable, "-m", "cli.main"]
    subprocess.run([*run, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([*run, "topics"], env=env, check=True, capture_output=True)
    gateway_url, worker_url = f"http://127.0.0.1:{gateway_port}", f"http://127.0.0.1:{worker_port}"
    processes.append(subprocess.Popen([*run, "gateway"], env=env))
    processes.append(subprocess.Popen([*run, "worker", "--agents", "raw,rollups"], env=env))
    wait_http(f"{gateway_url}/readyz")
    assert wait_http(f"{worker_url}/healthz").json() == {"status": "ok"}
    assert wait_http(f"{worker_url}/readyz").json() == {"status": "ready"}

    for user in range(USERS):
        events = [
            {
                "user_id": f"ops_user_{user}",
                "session_id": f"s_{user}",
                "event_type": "user_action",
                "event_name": "page_view",
                "event_category": "navigation",
                "properties": {"page": f"/p/{n}"},
                "source": "web_app",
                "platform": "web",
            }
            for n in range(EVENTS_PER_USER)
        ]
        answer = httpx.post(
            f"{gateway_url}/analytics/events/batch", json={"events": events}, headers=bearer(), timeout=30
        )
        assert answer.status_code == 200, answer.text
    accepted = USERS * EVENTS_PER_USER

    groups = [f"{deployment.group_prefix}raw", f"{deployment.group_prefix}rollups"]
    topics = registry(deployment.prefix)
    events_topic, dead_topic = topics[Stream.EVENTS].name, topics[Stream.EVENTS].dead_letter_name

    def caught_up() -> None:
        deadline = time.monotonic() + 90
        while sum(asyncio.run(consumer_lag(kafka_bootstrap, groups, [events_topic])).values()):
            assert time.monotonic() < deadline, "the worker groups never caught up"
            time.sleep(0.5)

    caught_up()
    worker = scrape(f"{worker_url}/metrics")
    for name, kind in documented("analytics_worker_").items():
        assert exposed(worker, name), f"worker does not expose {name} ({kind})"
    for group in ("raw", "rollups"):
        assert total(worker, "analytics_worker_events_total", group=group, outcome="stored") == accepted
        assert total(worker, "analytics_worker_messages_total", group=group, stream="events") >= USERS
        assert total(worker, "analytics_worker_ready", group=group) == 1
        group_lag = [s for s in worker["analytics_worker_consumer_lag_messages"] if s[0]["group"] == group]
        # one process holds every partition of every stream's topic: one lag series for each
        assert total(worker, "analytics_worker_assigned_partitions", group=group) == len(group_lag)
        assert {s[0]["topic"] for s in group_lag} == {spec.name for spec in topics.values()}
        assert total(worker, "analytics_worker_freshness_seconds_count", group=group) >= USERS
        assert total(worker, "analytics_worker_commit_duration_seconds_count", group=group) >= 1
        assert (
            total(worker, "analytics_worker_last_commit_timestamp_seconds", group=group) > time.time() - 600
        )
    # lag: one series per assigned partition and group, all 0 once committed
    assert total(worker, "analytics_worker_consumer_lag_messages") == 0
    assert total(worker, "analytics_worker_insert_rows_total", table="analytics_events") == accepted
    assert total(worker, "analytics_worker_insert_duration_seconds_count", table="analytics_events") >= 1
    assert total(worker, "analytics_worker_dead_letters_total") == 0

    gateway = scrape(f"{gateway_url}/metrics")
    for name, kind in documented("analytics_gateway_").items():
        assert exposed(gateway, name), f"gateway does not expose {name} ({kind})"
    assert total(gateway, "analytics_gateway_events_accepted_total", stream="events") == accepted
    assert (
        total(gateway, "analytics_gateway_http_requests_total", route="/analytics/events/batch", status="200")
        == USERS
    )

    async def poison() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
        await producer.start()
        try:
            await producer.send_and_wait(events_topic, b"{not json", key=b"default:ops", partition=0)
        finally:
            await producer.stop()

    asyncio.run(poison())
    caught_up()
    deadline = time.monotonic() + 30
    while total(scrape(f"{worker_url}/metrics"), "analytics_worker_dead_letters_total") < 1:
        assert time.monotonic() < deadline, "the poison message was never dead-lettered"
        time.sleep(0.5)
    worker = scrape(f"{worker_url}/metrics")
    assert total(worker, "analytics_worker_dead_letters_total", group="raw", step="decode") == 1
    assert total(worker, "analytics_worker_dead_letters_total", group="rollups") == 0
    assert dead_topic  # the letter itself is on the dead-letter topic (tests/integration/test_dead_letters*)

    # the query API on the same (embedded) store: one process per directory, so the worker stops first
    worker_process = processes[1]
    worker_process.terminate()
    worker_process.wait(timeout=60)
    query_url = f"http://127.0.0.1:{query_port}"
    processes.append(subprocess.Popen([*run, "query"], env=env))
    wait_http(f"{query_url}/readyz")
    dashboard = httpx.get(
        f"{query_url}/analytics/dashboard/ops_user_0?time_period=last_24_hours", headers=bearer(), timeout=30
    )
    assert dashboard.status_code == 200, dashboard.text
    assert dashboard.json()["data"]["overview"]["total_events"] == EVENTS_PER_USER
    query = scrape(f"{query_url}/metrics")
    for name, kind in documented("analytics_query_").items():
        assert exposed(query, name), f"query API does not expose {name} ({kind})"
    assert total(query, "analytics_query_clickhouse_duration_seconds_count") >= 1
    assert total(query, "analytics_query_http_requests_total", status="200") >= 1


def test_a_gateway_of_several_processes_answers_each_scrape_for_all_of_them(
    kafka_bootstrap: str, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    tag = uuid.uuid4().hex[:8]
    deployment = Deployment(
        kafka_bootstrap, f"opsmp-{tag}.", f"opsmp-{tag}-", f"chdb://{tmp_path / 'ch'}", "analytics"
    )
    port = free_port()
    env = {**deployment.env(), "ANALYTICS_GATEWAY_PORT": str(port), "ANALYTICS_GATEWAY_WORKERS": "2"}
    run = [sys.executable, "-m", "cli.main"]
    subprocess.run([*run, "topics"], env=env, check=True, capture_output=True)
    processes.append(subprocess.Popen([*run, "gateway"], env=env))
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/readyz")
    requests, per_request = 24, 5
    event = {
        "user_id": "mp_user",
        "session_id": "s",
        "event_type": "user_action",
        "event_name": "page_view",
        "event_category": "navigation",
        "source": "web_app",
        "platform": "web",
    }
    for _ in range(requests):  # a new connection each: the two processes share the listening socket
        answer = httpx.post(
            f"{url}/analytics/events/batch",
            json={"events": [event] * per_request},
            headers=bearer(),
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
    for _ in range(4):  # whichever process answers the scrape, it counts both processes' requests
        samples = scrape(f"{url}/metrics")
        assert (
            total(samples, "analytics_gateway_events_accepted_total", stream="events")
            == requests * per_request
        )
        route = {"route": "/analytics/events/batch", "status": "200"}
        assert total(samples, "analytics_gateway_http_requests_total", **route) == requests
