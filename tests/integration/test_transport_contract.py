"""One contract, two transports: the same requests through the gateway give the same stored raw rows and
rollups whether events travel over Kafka to the Faust worker or over the embedded in-process bus of
``analytics dev``. Both are compared with the independent oracles.

Each transport runs once for the module (gateway, worker or ``analytics dev``, each store its own chDB
directory) and takes every request: the product's streams (compared with :mod:`tests.support.rollup_oracle`),
a small generated learning platform posted to the LMS batch routes, and every valid LMS example posted to
its single route under a tenant of its own. Then, for the learning platform's streams: both stores hold the
same raw rows (but for the server's ids and receive times), current states and rollups; the eight models
read from each equal :mod:`tests.support.lms_oracle`; and on each, every field of every valid example's
body equals its stored column (``user_id`` the subject key and the person's integer id in ``lms_user_id``,
an entity's own fields in the JSON ``document``, ``properties`` as JSON, decimals in hundredths in the
current-state tables)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from loadgen.lms_platform import TenantPlatform, generate_platform
from plumbing.kafka_admin import ensure_topics
from schemas.lms_payloads import LMS_ROUTES
from schemas.lms_rollups import LMS_ROLLUPS
from schemas.lms_rows import LMS_RAW_COLUMNS, LMS_RAW_TABLES, LMS_STATE_COLUMNS, LMS_STATE_TABLES
from schemas.topics import LMS_STREAMS, Stream, registry
from tests.conftest import unavailable
from tests.support import lms_models, lms_oracle
from tests.support import rollup_oracle as oracle
from tests.support.auth import bearer, token
from tests.support.chdb_query import query_in_subprocess
from tests.support.dev_process import Dev
from tests.support.examples import all_examples, lms_message_fields, same_value
from tests.support.kafka_gateway import gateway
from tests.support.kafka_worker import PARTITIONS, Deployment, assert_matches_oracle, wait_caught_up
from tests.support.processes import stop
from tests.support.recent_examples import recent
from tests.support.rollup_reads import rounded, select_sql

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]
SERVER_ONLY = {"tenant_id", "received_at", "time_clamped", "schema_version"}
LMS_TENANT = "default"
EXAMPLES_TENANT = "lms-examples"
"""The valid LMS examples' tenant: their ids (student 17, course 101) stay out of the platform's numbers."""
SERVER_STAMPED = {"id", "received_at"}
"""Raw columns the two transports fill differently for the same request: the server's id (for items
without a client id) and the time of receipt."""
USER_AGENT_PARTS = {"browser", "browser_version", "os", "os_version", "device"}
"""Raw columns the gateway derives from ``user_agent`` under the tenant's privacy policy. The Kafka gateway
of these tests has no ClickHouse server to read tenants' policies from (``tests.support.kafka_gateway``;
``ingest_gateway.main`` logs it), so it leaves them empty where ``analytics dev`` fills them: left out of
the comparison; their parsing is the privacy tests' subject."""
TRANSPORTS = ("kafka", "embedded")
STATE_KEYS = {
    "lms_institutes": ("institute_id",),
    "lms_courses": ("course_id",),
    "lms_users": ("user_id",),
    "lms_enrollments": ("user_id", "course_id"),
}
"""Each current-state table's key within a tenant."""


def contract_events(seed: int = 31) -> tuple[oracle.Generated, dict[str, list[dict[str, Any]]]]:
    """Oracle events moved into the past (so no time is clamped) for the default tenant, and the request
    bodies that carry them (client ids and timestamps, no server fields)."""
    generated = oracle.generate(1_500, users=30, seed=seed)
    shift = datetime(2026, 11, 1, tzinfo=UTC) - datetime(2027, 1, 2, tzinfo=UTC)
    seen_days: set[tuple[str, str]] = set()
    usage = []
    for event in generated.usage:  # one summary per user and day: "latest wins" needs no ordering then
        if (event["user_id"], event["date"]) not in seen_days:
            seen_days.add((event["user_id"], event["date"]))
            usage.append(event)
    generated.usage = usage
    bodies: dict[str, list[dict[str, Any]]] = {}
    for name in ("events", "performance", "usage", "activities"):
        events = getattr(generated, name)
        for event in events:
            event["tenant_id"] = "default"
            if "timestamp" in event:
                moved = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")) + shift
                event["timestamp"] = oracle.iso(moved)
            if "date" in event:
                event["date"] = (datetime.fromisoformat(event["date"]) + shift).date().isoformat()
        bodies[name] = [{k: v for k, v in e.items() if k not in SERVER_ONLY} for e in events]
    return generated, bodies


def lms_term_start(today: date) -> date:
    """The Monday five weeks before ``today``: a two-week term in the past, inside every retention."""
    return today - timedelta(days=today.weekday() + 35)


def lms_platform() -> TenantPlatform:
    """A small learning platform of the default tenant (UTC), with the generator's messy delivery."""
    (platform,) = generate_platform(
        seed=5,
        tenants=[(LMS_TENANT, "UTC")],
        students=40,
        courses=3,
        teachers=2,
        institutes=2,
        term_start=lms_term_start(datetime.now(UTC).date()),
        term_days=14,
    )
    return platform


async def post_all(client: httpx.AsyncClient, bodies: dict[str, list[dict[str, Any]]]) -> None:
    events = bodies["events"]
    for start in range(0, len(events), 100):
        response = await client.post("/analytics/events/batch", json={"events": events[start : start + 100]})
        assert response.status_code == 200 and response.json()["data"]["failed_count"] == 0, response.text
    for name in ("performance", "usage", "activities"):
        for body in bodies[name]:
            response = await client.post(f"/analytics/{name}", json=body)
            assert response.status_code == 200, response.text


async def post_lms(client: httpx.AsyncClient, platform: TenantPlatform) -> None:
    """The platform's items to the batch routes, 100 per request, each stream in delivery order."""
    for stream, route in LMS_ROUTES.items():
        bodies = [item.body for item in platform.items if item.stream is stream]
        for start in range(0, len(bodies), 100):
            chunk = bodies[start : start + 100]
            response = await client.post(f"{route}/batch", json={"events": chunk})
            assert response.status_code == 200, response.text[:2000]
            answer = response.json()["data"]
            assert (answer["processed_count"], answer["warnings"]) == (len(chunk), []), answer["errors"][:3]


async def post_examples(client: httpx.AsyncClient) -> dict[str, tuple[Stream, dict[str, Any]]]:
    """Every valid LMS example, its times moved to recent days (:func:`tests.support.recent_examples.recent`),
    to its single route with a service credential of the examples' tenant; returns stored event id →
    (stream, body as posted)."""
    headers = {"authorization": f"Bearer {token('lms-backend', EXAMPLES_TENANT, ('service',))}"}
    posted = {}
    for stream, name, example in all_examples("valid", LMS_STREAMS):
        body = recent(example)  # inside every retention whenever the suite runs
        response = await client.post(LMS_ROUTES[stream], json=body, headers=headers)
        assert response.status_code == 200, (name, response.text)
        assert response.json()["data"].get("warnings", []) == [], name
        posted[response.json()["data"]["event_id"]] = (stream, body)
    return posted


@dataclass(frozen=True)
class Run:
    """One transport's store, once every request went through it."""

    deployment: Deployment
    examples: dict[str, tuple[Stream, dict[str, Any]]]


async def through_kafka(
    bootstrap: str, folder: Path, bodies: dict[str, list[dict[str, Any]]], platform: TenantPlatform
) -> Run:
    tag = uuid.uuid4().hex[:8]
    zones = {LMS_TENANT: "UTC", EXAMPLES_TENANT: "UTC"}
    deployment = Deployment(
        bootstrap, f"c-{tag}.", f"c-{tag}-", f"chdb://{folder / 'ch'}", "analytics", zones
    )
    deployment.migrate()
    await ensure_topics(bootstrap, list(registry(deployment.prefix, PARTITIONS).values()))
    async with gateway(bootstrap, deployment.prefix) as client:
        await post_all(client, bodies)
        await post_lms(client, platform)
        examples = await post_examples(client)
    worker = deployment.start_worker()
    try:
        await wait_caught_up(deployment, worker, timeout=240)
    finally:
        stop(worker)
    return Run(deployment, examples)


async def embedded(
    bootstrap: str, folder: Path, bodies: dict[str, list[dict[str, Any]]], platform: TenantPlatform
) -> Run:
    dev = Dev(folder)
    deployment = Deployment(bootstrap, "unused.", "unused-", dev.url, "analytics")
    process = dev.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{dev.port}", timeout=60, headers=bearer()
        ) as client:
            await post_all(client, bodies)
            await post_lms(client, platform)
            examples = await post_examples(client)
    finally:
        stop(process)
    return Run(deployment, examples)


@pytest.fixture(scope="module")
def platform() -> TenantPlatform:
    return lms_platform()


@pytest.fixture(scope="module")
def runs(
    _kafka_session: str | None, tmp_path_factory: pytest.TempPathFactory, platform: TenantPlatform
) -> dict[str, Run]:
    """Both transports, once for the module: every request through each, the two at the same time (each
    in a thread of its own with its own event loop; their servers and stores share nothing), since most of
    either run is waiting for its own processes."""
    if _kafka_session is None:
        unavailable("no Kafka broker (see deploy/local/kafka.sh)")
    assert _kafka_session is not None
    bootstrap = _kafka_session
    _, bodies = contract_events()
    with ThreadPoolExecutor(max_workers=len(TRANSPORTS)) as pool:
        futures = {
            name: pool.submit(asyncio.run, run(bootstrap, tmp_path_factory.mktemp(name), bodies, platform))
            for name, run in (("kafka", through_kafka), ("embedded", embedded))
        }
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def zones(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(oracle.TENANT_ZONES, "default", "UTC")
    yield


def test_both_transports_store_the_same_oracle_equal_results(
    transport: str, runs: dict[str, Run], zones: None
) -> None:
    generated, _ = contract_events()
    assert_matches_oracle(runs[transport].deployment, generated)


# ---- the learning platform's streams -------------------------------------------------------------------


def lms_queries(tenant: str) -> dict[str, str]:
    """Every LMS raw row (but its server-stamped columns), current state and rollup row of ``tenant``."""
    where = f"tenant_id = '{tenant}'"
    queries = {}
    for stream in LMS_STREAMS:
        columns = [c for c in LMS_RAW_COLUMNS[stream] if c not in SERVER_STAMPED | USER_AGENT_PARTS]
        queries[f"raw {stream}"] = f"SELECT {', '.join(columns)} FROM {LMS_RAW_TABLES[stream]} WHERE {where}"
    for table in LMS_STATE_TABLES.values():
        queries[f"state {table}"] = (
            f"SELECT {', '.join(LMS_STATE_COLUMNS[table])} FROM {table} FINAL WHERE {where}"
        )
    for item in LMS_ROLLUPS:
        for grain in item.grains:
            queries[f"rollup {item.name} {grain}"] = select_sql(
                item, grain, ["bucket", *item.dimensions], where
            )
    return queries


def canonical(rows: list[list[Any]]) -> list[str]:
    """Rows as sorted JSON text (floats of merged states :func:`rounded`): a multiset, order aside."""
    return sorted(json.dumps(rounded(row), sort_keys=True, default=str) for row in rows)


def test_lms_streams_store_the_same_rows_and_rollups_on_both_transports(runs: dict[str, Run]) -> None:
    stored = {
        name: query_in_subprocess(run.deployment.clickhouse_url, "analytics", lms_queries(LMS_TENANT))
        for name, run in runs.items()
    }
    kafka, embedded_store = stored["kafka"], stored["embedded"]
    assert kafka.keys() == embedded_store.keys()
    assert len([q for q in kafka if q.startswith("rollup")]) == sum(len(r.grains) for r in LMS_ROLLUPS)
    for query, rows in kafka.items():
        assert rows, f"{query}: nothing stored"
        mine, theirs = canonical(rows), canonical(embedded_store[query])
        assert mine == theirs, (query, len(mine), len(theirs), sorted(set(mine) ^ set(theirs))[:4])


def asked(platform: TenantPlatform) -> lms_models.Asked:
    start = lms_term_start(datetime.now(UTC).date())
    courses, assessments, people, video_students = lms_models.ids_of(i.body for i in platform.items)
    months = sorted({(d.year, d.month) for d in (start + timedelta(days=n) for n in range(14))})
    return lms_models.Asked(
        platform.tenant_id,
        platform.time_zone,
        courses,
        assessments,
        people,
        video_students,
        days=[start + timedelta(days=2)],
        weeks=[start + timedelta(days=7)],
        months=months,
        ranges=[(start + timedelta(days=1), start + timedelta(days=11))],
    )


def test_lms_models_equal_the_oracle_on_both_transports(
    transport: str, runs: dict[str, Run], platform: TenantPlatform
) -> None:
    ask = asked(platform)
    facts = lms_oracle.facts_of(
        platform.tenant_id, platform.time_zone, ((i.stream.value, i.body) for i in platform.items)
    )
    want = lms_models.oracle_answers(facts, ask)
    (got,) = lms_models.read_models(runs[transport].deployment.clickhouse_url, "analytics", [ask])
    assert lms_models.compared(want) >= 40
    found = lms_models.differences(got, want)
    assert not found, f"{len(found)} differences:\n" + "\n".join(found[:40])


# ---- every valid example, field by field ---------------------------------------------------------------


STORED_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?")


def utc_text(value: Any) -> Any:
    """A stored time as read back through JSON (``2026-09-01 06:00:00``, the columns' zone UTC) as ISO
    text with its offset; anything else as it is."""
    if isinstance(value, str) and STORED_TIME.fullmatch(value):
        return value.replace(" ", "T") + "+00:00"
    return value


def stored_fields(stream: Stream, row: dict[str, Any]) -> dict[str, Any]:
    """A raw row in the form of its message's fields: times with their offset, an entity's ``document``
    spread into the fields and ``is_deleted`` a boolean, ``properties`` parsed."""
    fields = {name: utc_text(value) for name, value in row.items()}
    if stream is Stream.LMS_ENTITIES:
        fields.update(json.loads(fields.pop("document")))
        fields["is_deleted"] = bool(fields["is_deleted"])
    if fields.get("properties"):
        fields["properties"] = json.loads(fields["properties"])
    return fields


def centi(value: Any) -> int | None:
    return None if value is None else lms_oracle.hundredths_of(value)


def expected_state(body: dict[str, Any], updated_at: Any) -> tuple[str, dict[str, Any]]:
    """(state table, its row's expected columns) of an entity document, written out here from the
    contract: decimals in hundredths, a course's videos and assessments as parallel arrays, ids absent
    as 0, a person by subject key and integer id."""
    versioned = {
        "version": body["version"],
        "is_deleted": int(body.get("is_deleted", False)),
        "updated_at": updated_at,
    }
    kind = body["type"]
    if kind == "institute":
        return "lms_institutes", {"institute_id": body["institute_id"], "name": body["name"], **versioned}
    if kind == "course":
        videos, tests = body.get("videos", []), body.get("assessments", [])
        return "lms_courses", {
            "course_id": body["course_id"],
            "institute_id": body.get("institute_id") or 0,
            "title": body["title"],
            "teacher_ids": body.get("teacher_ids", []),
            "is_published": int(body.get("is_published", False)),
            "published_at": body.get("published_at"),
            "video_ids": [v["video_id"] for v in videos],
            "video_seconds": [v["duration_seconds"] for v in videos],
            "assessment_ids": [a["assessment_id"] for a in tests],
            "assessment_types": [a["assessment_type"] for a in tests],
            "max_score_centi": [centi(a["max_score"]) for a in tests],
            "passing_score_centi": [centi(a.get("passing_score")) for a in tests],
            **versioned,
        }
    if kind == "user":
        return "lms_users", {
            "user_id": f"{body['user_type']}:{body['user_id']}",
            "user_type": body["user_type"],
            "lms_user_id": body["user_id"],
            "institute_id": body.get("institute_id") or 0,
            "signed_up_at": body["signed_up_at"],
            **versioned,
        }
    return "lms_enrollments", {
        "user_id": f"student:{body['student_id']}",
        "student_id": body["student_id"],
        "course_id": body["course_id"],
        "enrolled_at": body["enrolled_at"],
        "status": body.get("status", "active"),
        "progress_centi": centi(body.get("progress_percentage", 0)),
        "completed_at": body.get("completed_at"),
        "dropped_at": body.get("dropped_at"),
        **versioned,
    }


def example_queries() -> dict[str, str]:
    where = f"tenant_id = '{EXAMPLES_TENANT}'"
    queries = {
        f"raw {s}": f"SELECT {', '.join(LMS_RAW_COLUMNS[s])} FROM {LMS_RAW_TABLES[s]} FINAL WHERE {where}"
        for s in LMS_STREAMS
    }
    for table in LMS_STATE_TABLES.values():
        queries[table] = f"SELECT {', '.join(LMS_STATE_COLUMNS[table])} FROM {table} FINAL WHERE {where}"
    return queries


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_every_valid_lms_example_round_trips_to_its_tables_field_by_field(
    transport: str, runs: dict[str, Run]
) -> None:
    run = runs[transport]
    got = query_in_subprocess(run.deployment.clickhouse_url, "analytics", example_queries())
    rows = {
        s: {str(r[1]): dict(zip(LMS_RAW_COLUMNS[s], r, strict=True)) for r in got[f"raw {s}"]}
        for s in LMS_STREAMS
    }
    assert sum(len(r) for r in rows.values()) == len(run.examples) == len(all_examples("valid", LMS_STREAMS))
    newest: dict[tuple[Any, ...], tuple[dict[str, Any], dict[str, Any]]] = {}
    for event_id, (stream, body) in run.examples.items():
        fields = stored_fields(stream, rows[stream][event_id])
        assert fields["tenant_id"] == EXAMPLES_TENANT
        for name, value in lms_message_fields(stream, body).items():
            if name == "timestamp" and "sent_at" in body:  # corrected for the client's clock skew
                skew = moment(fields["received_at"]) - moment(body["sent_at"])
                assert moment(fields["timestamp"]) == moment(value) + skew, (body["type"], name)
            else:
                assert same_value(value, fields[name]), (body["type"], name, value, fields[name])
        if "timestamp" not in body:
            assert fields["timestamp"] == fields["received_at"], body["type"]
        if stream is Stream.LMS_ENTITIES:
            key = lms_oracle.entity_key(body)
            if key not in newest or newest[key][0]["version"] < body["version"]:
                newest[key] = (body, fields)
    assert newest
    for body, fields in newest.values():
        table, expected = expected_state(body, fields["timestamp"])
        stored = [
            {name: utc_text(value) for name, value in zip(LMS_STATE_COLUMNS[table], r, strict=True)}
            for r in got[table]
        ]
        (row,) = [r for r in stored if all(r[k] == expected[k] for k in STATE_KEYS[table])]
        for name, value in expected.items():
            assert same_value(value, row[name]), (table, name, value, row[name])
