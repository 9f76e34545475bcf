"""A worker deployment on a real broker for tests: topics and consumer groups of its own, the worker
process, events produced as the gateway would (the product's generated events, or a generated learning
platform's items stamped by the gateway's own :func:`ingest_gateway.stamping.stamp`), waiting for the agent
groups to catch up, workers SIGKILLed while they work, and the stored raw rows and rollups compared with the
independent oracle (:mod:`tests.support.rollup_oracle`)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.protocol.group import LeaveGroupRequest

from ingest_gateway.partitioner import partition_of
from ingest_gateway.stamping import stamp
from loadgen.lms_platform import TenantPlatform
from plumbing.kafka_admin import ensure_topics
from plumbing.kafka_lag import consumer_lag
from schemas.lms_payloads import LMS_PAYLOADS
from schemas.messages import encode_batch
from schemas.rollups import Grain, rollup
from schemas.topics import Stream, message_key, registry
from tests.support import rollup_oracle as oracle
from tests.support.chdb_query import query_in_subprocess
from tests.support.rollup_reads import select_sql

PARTITIONS = 3
WARM_START = (
    "import importlib, sys\n"
    "module, arguments = sys.argv[1], sys.argv[2:]\n"
    "main = importlib.import_module(module).main\n"
    "if sys.stdin.readline():\n"
    "    sys.exit(main(arguments) if arguments else main())\n"
)
"""A process started ahead of its turn (:meth:`Deployment.spare`): it imports a module (``sys.argv[1]``),
then waits for a line on standard input before it runs the module's ``main`` — with the remaining arguments,
if any — as ``python -m <module>`` would; closed instead, it exits without starting."""
MIGRATE_STORE = (
    "import sys\n"
    "from plumbing.clickhouse import open_for_command\n"
    "from plumbing.migrate import migrate\n"
    "client = open_for_command(sys.argv[1], sys.argv[2], create_database=True)\n"
    "migrate(client)\n"
    "client.close()\n"
)
"""What ``analytics migrate`` does to the ClickHouse store of a ``chdb://`` URL (``sys.argv``: URL and
database), for :meth:`Deployment.migrate_async`."""
STREAM_LISTS = {
    Stream.EVENTS: "events",
    Stream.PERFORMANCE: "performance",
    Stream.USAGE: "usage",
    Stream.ACTIVITIES: "activities",
}


@dataclass
class Deployment:
    """One deployment's names on a shared broker (topic and group prefixes of its own) and its store."""

    bootstrap: str
    prefix: str
    group_prefix: str
    clickhouse_url: str
    database: str
    zones: dict[str, str] = dataclasses.field(default_factory=dict)
    """Tenant → IANA zone, besides the product oracle's tenants (:data:`rollup_oracle.TENANT_ZONES`)."""
    batch_max_messages: int = 500
    session_timeout_s: int = 6
    """The consumer group session timeout (Faust's ``BROKER_SESSION_TIMEOUT``, read from the environment;
    the broker's least allowed is 6 s). After a SIGKILL the group waits this long for the dead member
    before giving its partitions to the next worker: Faust's default (60 s) would make each restart in a
    crash test wait a minute."""
    commit_interval_s: float | None = None
    """How often the worker commits acknowledged offsets (Faust's ``BROKER_COMMIT_INTERVAL``; ``None``: its
    default, 2.8 s). The consumer lag tests watch trails the worker's progress by up to this much."""

    def env(self) -> dict[str, str]:
        commits = (
            {} if self.commit_interval_s is None else {"BROKER_COMMIT_INTERVAL": str(self.commit_interval_s)}
        )
        return {
            **os.environ,
            "ANALYTICS_KAFKA_BOOTSTRAP": self.bootstrap,
            "ANALYTICS_TOPIC_PREFIX": self.prefix,
            "ANALYTICS_WORKER_GROUP_PREFIX": self.group_prefix,
            "ANALYTICS_CLICKHOUSE_URL": self.clickhouse_url,
            "ANALYTICS_CLICKHOUSE_DATABASE": self.database,
            "ANALYTICS_LOG_LEVEL": "WARNING",
            "ANALYTICS_TENANT_TIMEZONES": json.dumps({**oracle.TENANT_ZONES, **self.zones}),
            "ANALYTICS_WORKER_BATCH_MAX_MESSAGES": str(self.batch_max_messages),
            "ANALYTICS_WORKER_METRICS_PORT": "0",  # several workers at once (crash tests): free ports
            "BROKER_SESSION_TIMEOUT": str(self.session_timeout_s),
            "BROKER_HEARTBEAT_INTERVAL": "1",
            **commits,
        }

    def start_worker(self, agents: str = "raw,rollups") -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "stream_processors", "worker", "--agents", agents],
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def spare_worker(self, agents: str = "raw,rollups") -> subprocess.Popen[bytes]:
        """``python -m stream_processors worker --agents <agents>`` as a :meth:`spare`."""
        return self.spare("stream_processors.__main__", "worker", "--agents", agents)

    def spare(self, module: str, *arguments: str) -> subprocess.Popen[bytes]:
        """A process of ``module`` that starts when :func:`release` d (:data:`WARM_START`). Importing a
        worker's modules takes seconds of CPU; a test that restarts workers, or has a store to migrate
        first, starts the next one this way while it waits for something else. Until released it holds
        neither the store nor a place in a consumer group."""
        return subprocess.Popen(
            [sys.executable, "-c", WARM_START, module, *arguments],
            env=self.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "cli.main", "migrate"], env=self.env(), check=True, capture_output=True
        )

    async def migrate_async(self) -> None:
        """The store's migrations, as ``analytics migrate`` (:meth:`migrate`) applies them to ClickHouse,
        in a process of its own without blocking the event loop: the store is migrated while the test
        produces its events and the worker imports. The configuration store is left out (the CLI's
        upgrade of it takes a second or two): a worker reads nothing there, tenant settings are in
        ClickHouse."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            MIGRATE_STORE,
            self.clickhouse_url,
            self.database,
            env=self.env(),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, errors = await process.communicate()
        assert process.returncode == 0, f"migrate failed: {errors.decode(errors='replace')[-3000:]}"


def release(worker: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    """Let a :meth:`Deployment.spare` start; returns it."""
    assert worker.stdin is not None
    worker.stdin.write(b"go\n")
    worker.stdin.close()
    return worker


OUT_OF_RANGE = {
    Stream.EVENTS: [
        ("timestamp", "1969-12-31T23:59:59.000Z"),
        ("timestamp", "1970-01-04T12:00:00.000Z"),
        ("timestamp", "0002-01-01T12:02:08.000Z"),
    ],
    Stream.USAGE: [("date", "1969-12-31")],
}
"""Rows injected straight into the topics (the gateway refuses them): each one a dead letter."""


def with_injected(stream: Stream, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``events`` with the out-of-range rows of ``stream`` placed among the first ones (new ids)."""
    out = list(events)
    for i, (field, value) in enumerate(OUT_OF_RANGE.get(stream, [])):
        out.insert(2 * i + 1, {**events[i], "id": f"00000000-0000-4000-8000-{i:012d}", field: value})
    return out


async def produce(
    deployment: Deployment,
    generated: oracle.Generated,
    poison_every: int = 0,
    inject: bool = False,
    retried: int = 0,
) -> int:
    """Produce every generated event as the gateway would (envelopes per partition); return poison count.

    ``inject``: out-of-range rows (:data:`OUT_OF_RANGE`) among the valid ones. ``retried``: that many
    events per stream carry client-chosen ids and reach their topic a second time, in later messages, as
    after a client retry whose first request was answered 503 but got through."""
    await ensure_topics(deployment.bootstrap, list(registry(deployment.prefix, PARTITIONS).values()))
    producer = AIOKafkaProducer(
        bootstrap_servers=deployment.bootstrap, acks="all", linger_ms=5, enable_idempotence=True
    )
    await producer.start()
    rng = random.Random(5)
    poison = 0
    try:
        pending = []
        for stream, attribute in STREAM_LISTS.items():
            events = getattr(generated, attribute)
            for event in events[:retried]:
                event["client_keyed"] = True
            sent = [*(with_injected(stream, events) if inject else events), *events[:retried]]
            topic = registry(deployment.prefix)[stream].name
            for start in range(0, len(sent), 25):
                groups: dict[int, list[dict[str, Any]]] = {}
                for event in sent[start : start + 25]:
                    key = f"{event['tenant_id']}:{event['user_id']}".encode()
                    groups.setdefault(partition_of(key, PARTITIONS), []).append(event)
                for partition, group in groups.items():
                    value = encode_batch(group)
                    pending.append(await producer.send(topic, value, partition=partition))
                    if poison_every and rng.randrange(poison_every) == 0:
                        poison += 1
                        bad = (
                            b"{not json" if poison % 2 else encode_batch([{"user_id": "x", "nonsense": True}])
                        )
                        pending.append(await producer.send(topic, bad, partition=partition))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return poison


def stamp_lms(
    platforms: Sequence[TenantPlatform], received_at: datetime, per_request: int = 100
) -> list[tuple[Stream, list[dict[str, Any]]]]:
    """The Kafka messages the gateway makes of each tenant's items, request by request: an LMS back end
    posting its feed in delivery order, ``per_request`` items of one stream a request (sent when full,
    the rest at the end); each request received a millisecond after the one before, from ``received_at``
    on. Each item is validated by its stream's payload model and stamped by
    :func:`ingest_gateway.stamping.stamp` (no privacy policy: the default stores what was sent)."""
    bodies: list[tuple[str, Stream, list[dict[str, Any]]]] = []
    for platform in platforms:
        pending: dict[Stream, list[dict[str, Any]]] = {}
        for item in platform.items:
            pending.setdefault(item.stream, []).append(item.body)
            if len(pending[item.stream]) == per_request:
                bodies.append((platform.tenant_id, item.stream, pending.pop(item.stream)))
        bodies.extend((platform.tenant_id, stream, rest) for stream, rest in pending.items())
    requests = []
    for index, (tenant, stream, chunk) in enumerate(bodies):
        at = received_at + timedelta(milliseconds=index)
        requests.append((stream, [stamp(LMS_PAYLOADS[stream].model_validate(b), tenant, at) for b in chunk]))
    return requests


async def produce_requests(
    deployment: Deployment, requests: Sequence[tuple[Stream, list[dict[str, Any]]]]
) -> int:
    """Each request's messages to its stream's topic as the gateway sends them: one message per request
    and partition, partitioned by ``tenant_id:user_id`` (the subject key). Returns the messages sent."""
    await ensure_topics(deployment.bootstrap, list(registry(deployment.prefix, PARTITIONS).values()))
    producer = AIOKafkaProducer(
        bootstrap_servers=deployment.bootstrap, acks="all", linger_ms=5, enable_idempotence=True
    )
    await producer.start()
    topics = registry(deployment.prefix)
    try:
        pending = []
        for stream, messages in requests:
            groups: dict[int, list[dict[str, Any]]] = {}
            for message in messages:
                key = message_key(message["tenant_id"], message["user_id"])
                groups.setdefault(partition_of(key, PARTITIONS), []).append(message)
            for partition, group in groups.items():
                value = encode_batch(group)
                pending.append(await producer.send(topics[stream].name, value, partition=partition))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return len(pending)


COORDINATOR_WAIT_S = 30.0
"""How long a read of the groups' offsets waits out a broker that cannot name their coordinator yet."""


async def lag(deployment: Deployment, groups: tuple[str, ...] = ("raw", "rollups")) -> int:
    """Messages not yet committed by the agent groups, over every stream topic.

    A broker answers a retriable error (``GroupCoordinatorNotAvailableError``) while it creates or loads
    its offsets topic, on a fresh broker for up to seconds, longer while other tests load it: asked again
    (as ``analytics lag`` does) for up to :data:`COORDINATOR_WAIT_S`."""
    topics = [spec.name for spec in registry(deployment.prefix).values()]
    names = [f"{deployment.group_prefix}{group}" for group in groups]
    deadline = time.monotonic() + COORDINATOR_WAIT_S
    while True:
        try:
            return sum((await consumer_lag(deployment.bootstrap, names, topics)).values())
        except KafkaError as error:
            if not error.retriable or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def exited_early(worker: subprocess.Popen[bytes]) -> AssertionError:
    return AssertionError(
        f"worker exited early: {worker.stderr.read().decode()[-3000:] if worker.stderr else ''}"
    )


async def wait_caught_up(
    deployment: Deployment,
    worker: subprocess.Popen[bytes],
    timeout: float,
    groups: tuple[str, ...] = ("raw", "rollups"),
) -> None:
    """Until the groups have committed everything. Polled every 0.2 s (a lag reading takes about 0.1 s):
    a test's last seconds are spent waiting here."""
    deadline = time.monotonic() + timeout
    while (remaining := await lag(deployment, groups)) > 0:
        if worker.poll() is not None:
            raise exited_early(worker)
        assert time.monotonic() < deadline, f"{remaining} messages still not committed"
        await asyncio.sleep(0.2)


async def evict_members(deployment: Deployment, groups: tuple[str, ...] = ("raw", "rollups")) -> int:
    """Take every member out of the agent groups (a LeaveGroup request on each one's behalf, what a worker
    stopping cleanly sends itself); returns how many there were.

    For a SIGKILLed worker: the coordinator would keep its members until their session times out (6 s at
    the least) and hold the next worker's join until then, in every round of a crash test. Only the dead
    worker's members may be in the groups when this is called; what the next worker then finds is the
    same as after the timeout: no member, and the offsets the dead one committed."""
    admin = AIOKafkaAdminClient(bootstrap_servers=deployment.bootstrap)
    await admin.start()
    left = 0
    try:
        for group in groups:
            name = f"{deployment.group_prefix}{group}"
            node = await admin.find_coordinator(name)
            for member_id, _ in await described_members(admin, name, node):
                leave = LeaveGroupRequest(name, member_id)
                answer = await admin._send_request(leave, node)  # noqa: SLF001 - no public API
                assert answer.error_code == 0, f"{name}: {member_id} did not leave: {answer}"
                left += 1
    finally:
        await admin.close()
    return left


async def described_members(
    admin: AIOKafkaAdminClient, group: str, coordinator: int | None = None
) -> list[tuple[str, bytes]]:
    """(member id, encoded assignment) of each member of ``group``, as its coordinator describes it."""
    (response,) = await admin.describe_consumer_groups([group], group_coordinator_id=coordinator)
    # each member: (member_id, client_id, client_host, metadata, assignment)
    return [(member[0], member[4]) for described in response.groups for member in described[5]]


class Workers:
    """Worker processes of a deployment that run one after another, each started ahead of its turn as a
    :meth:`Deployment.spare_worker` (while the store is migrated, or while the worker before it runs).
    Used as a context manager: whatever still runs at the end is killed."""

    def __init__(self, deployment: Deployment) -> None:
        self._spare: subprocess.Popen[bytes] | None = deployment.spare_worker()
        self.current: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for process in (self._spare, self.current):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()

    def start(self, then: Deployment | None = None) -> subprocess.Popen[bytes]:
        """Release the spare (now :attr:`current`); ``then``: the deployment (settings) of the next one, to
        start as the new spare (none when ``None``: this is the last)."""
        assert self._spare is not None, "no worker left to start"
        self.current, self._spare = release(self._spare), None
        if then is not None:
            self._spare = then.spare_worker()
        return self.current


async def kill_during_load(
    deployment: Deployment, workers: Workers, rng: random.Random, share: int, then: Deployment
) -> int:
    """Start the next worker and SIGKILL it a random 0.3–2.5 s after its first commit, or earlier once it
    committed ``share`` messages (so that every kill finds load left, however fast the machine); returns
    the messages then still uncommitted.

    Placed by the commits, never by the time since the start: the start-up (seconds) and the group's
    rebalance would take most kills at a random time, before the worker stored anything. A commit means
    the worker has stored batches; the ones it is storing at the kill, or stored without committing yet,
    are the open intents the next worker must re-form. The dead worker's group members are evicted
    (:func:`evict_members`) so that the next worker (of ``then``) starts at once."""
    worker = workers.start(then)
    loop = asyncio.get_running_loop()
    before = await lag(deployment)
    deadline = loop.time() + 120
    while (remaining := await lag(deployment)) == before:
        if worker.poll() is not None:
            raise exited_early(worker)
        assert loop.time() < deadline, "the worker committed nothing"
        await asyncio.sleep(0.1)
    kill_at = loop.time() + rng.uniform(0.3, 2.5)
    while loop.time() < kill_at and before - remaining < share:
        await asyncio.sleep(0.05)
        remaining = await lag(deployment)
    worker.kill()  # SIGKILL: no flush, no commit, no goodbye
    worker.wait()
    assert await evict_members(deployment) > 0, "the killed worker was in no group"
    return remaining


async def kill_workers_during_load(
    deployment: Deployment, workers: Workers, kills: int, rng: random.Random, drain: Deployment
) -> None:
    """``kills`` workers in turn, each SIGKILLed by :func:`kill_during_load` with load left; the spare
    started last, to drain the topics, is of ``drain`` (:meth:`Workers.start` it next).

    Each worker may commit a share of the messages before its kill, so that load is left for every kill
    and for the last worker, however fast the machine. From the second kill on, a kill can land while the
    worker still re-forms the open intents of the kill before: a crash during the recovery of a crash."""
    share = await lag(deployment) // (kills + 2)
    for kill in range(kills):
        then = drain if kill == kills - 1 else deployment
        left = await kill_during_load(deployment, workers, rng, share, then)
        assert left > 0, f"drained before kill {kill + 1}"


def rollup_queries() -> dict[str, str]:
    queries = {}
    for grain in Grain:
        queries[f"events_{grain}"] = select_sql(
            rollup("user_events"),
            grain,
            ["tenant_id", "user_id", "bucket", "event_type", "event_category", "event_name"],
        )
        queries[f"sessions_{grain}"] = select_sql(
            rollup("user_events"), grain, ["tenant_id", "user_id", "bucket"]
        )
        queries[f"activities_{grain}"] = select_sql(
            rollup("user_activities"),
            grain,
            ["tenant_id", "user_id", "bucket", "activity_type", "activity_category", "severity"],
        )
        queries[f"usage_{grain}"] = select_sql(
            rollup("user_usage"), grain, ["tenant_id", "user_id", "bucket"]
        )
        queries[f"pages_{grain}"] = select_sql(
            rollup("page_views"), grain, ["tenant_id", "user_id", "bucket", "page"]
        )
        queries[f"perf_{grain}"] = (
            f"SELECT tenant_id, user_id, toString(bucket), page, sum(samples) "
            f"FROM {rollup('user_performance').table} WHERE grain = '{grain}' "
            "GROUP BY tenant_id, user_id, bucket, page"
        )
    for table in ("analytics_events", "performance_metrics", "activity_logs"):
        queries[f"raw_{table}"] = f"SELECT count(), uniqExact(id) FROM {table}"
    queries["raw_usage_metrics"] = "SELECT count() FROM usage_metrics FINAL"
    return queries


def keyed(rows: list[list[Any]], width: int) -> dict[tuple[Any, ...], Any]:
    out = {}
    for row in rows:
        key = tuple(str(v) for v in row[:width])
        rest = row[width:]
        out[key] = rest[0] if len(rest) == 1 else tuple(rest)
    return out


def stringify(expected: dict[tuple[Any, ...], Any]) -> dict[tuple[Any, ...], Any]:
    return {tuple(str(v) for v in key): value for key, value in expected.items()}


def assert_matches_oracle(deployment: Deployment, generated: oracle.Generated, raw: bool = True) -> None:
    got = query_in_subprocess(deployment.clickhouse_url, deployment.database, rollup_queries())
    if raw:
        for table, sent in (
            ("analytics_events", generated.events),
            ("performance_metrics", generated.performance),
            ("activity_logs", generated.activities),
        ):
            # (rows, distinct ids) stored, each sent event once
            stored = got[f"raw_{table}"]
            assert stored == [[len(sent), len(sent)]], f"{table}: {stored} stored of {len(sent)} sent"
        days = {(e["tenant_id"], e["user_id"], e["date"]) for e in generated.usage}
        assert got["raw_usage_metrics"] == [[len(days)]], f"usage_metrics: {got['raw_usage_metrics']}"
    for grain in Grain:
        counts, sessions = oracle.expected_user_events(generated.events, grain.value)
        assert_same(f"events_{grain}", {k: v[0] for k, v in keyed(got[f"events_{grain}"], 6).items()}, counts)
        assert_same(
            f"sessions_{grain}", {k: v[1] for k, v in keyed(got[f"sessions_{grain}"], 3).items()}, sessions
        )
        assert_same(
            f"activities_{grain}",
            keyed(got[f"activities_{grain}"], 6),
            oracle.expected_activities(generated.activities, grain.value),
        )
        assert_same(
            f"usage_{grain}",
            {k: tuple(v[:4]) for k, v in keyed(got[f"usage_{grain}"], 3).items()},
            oracle.expected_usage(generated.usage, grain.value),
        )
        assert_same(
            f"pages_{grain}",
            {k: tuple(v) for k, v in keyed(got[f"pages_{grain}"], 4).items()},
            oracle.expected_page_views(generated.events, grain.value),
        )
        expected_perf = {
            k: v["samples"]
            for k, v in oracle.expected_performance(generated.performance, grain.value).items()
        }
        assert_same(f"perf_{grain}", keyed(got[f"perf_{grain}"], 4), expected_perf)


def assert_same(name: str, stored: dict[tuple[Any, ...], Any], expected: dict[tuple[Any, ...], Any]) -> None:
    """``stored`` equals the oracle's ``expected``; if not, the message says how: rows missing, rows that
    should not exist, values that differ (a few of each), so a rare failure tells lost from doubled."""
    expected = stringify(expected)
    if stored == expected:
        return
    missing = sorted(set(expected) - set(stored))
    extra = sorted(set(stored) - set(expected))
    differ = sorted(k for k in set(stored) & set(expected) if stored[k] != expected[k])
    raise AssertionError(
        f"{name}: {len(missing)} keys missing {missing[:3]}, {len(extra)} unexpected "
        f"{[(k, stored[k]) for k in extra[:3]]}, {len(differ)} differ "
        f"{[(k, stored[k], expected[k]) for k in differ[:5]]} (stored, expected)"
    )


async def group_members(deployment: Deployment, group: str) -> list[set[int]]:
    """Partitions of the events topic assigned to each member of ``group``."""
    from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

    topic = registry(deployment.prefix)[Stream.EVENTS].name
    admin = AIOKafkaAdminClient(bootstrap_servers=deployment.bootstrap)
    await admin.start()
    try:
        members = []
        for _, assignment in await described_members(admin, group):
            parts: set[int] = set()
            if assignment:
                for name, partitions in ConsumerProtocolMemberAssignment.decode(assignment).assignment:
                    if name == topic:
                        parts.update(partitions)
            members.append(parts)
        return members
    finally:
        await admin.close()
