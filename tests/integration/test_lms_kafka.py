"""The learning platform's streams through the worker as operators run it — Faust agents in their own
process — on the real broker and chDB, with SIGKILLs at random moments during the load (issue 18: "the
crash test of the stream processors passes on these streams, on the real broker").

A small generated platform (three tenants in three zones) is stamped by the gateway's own stamping,
request by request in delivery order (late events, entity versions out of order, activity before its
entities, client ids sent twice), and produced as the gateway partitions it. Workers are started one
after another and each SIGKILLed at a random moment while it drains the topics, then one more runs until
every group has committed everything. Then: every LMS raw table holds each event id exactly once
(unmerged, without ``FINAL``: the insert tokens and the id ledger dropped every repeat), the current-state
tables hold the newest version of every entity, and the eight models the readers compute from the rollups
equal the independent oracle's (:mod:`tests.support.lms_oracle`) for days, a week, the months of the term
and a range."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loadgen.lms_platform import TenantPlatform, generate_platform
from schemas.lms_rows import LMS_RAW_TABLES
from schemas.topics import LMS_STREAMS, Stream
from tests.support import lms_models
from tests.support import lms_oracle as oracle
from tests.support.chdb_query import query_in_subprocess
from tests.support.kafka_worker import (
    Deployment,
    Workers,
    kill_workers_during_load,
    produce_requests,
    stamp_lms,
    wait_caught_up,
)
from tests.support.processes import stop

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

KILLS = 3
"""Each kill lands in the load (after the worker's first commit, with messages left: batches of 20 are
then stored but not committed, or half stored), and each after the first can hit the recovery from the kill
before; three show that every restart finds what the dead worker left, whatever it was doing."""
PER_REQUEST = 50
STATE_KEYS = {
    "lms_institutes": ("institute", ["institute_id"], "name"),
    "lms_courses": ("course", ["course_id"], "title"),
    "lms_users": ("user", ["user_type", "lms_user_id"], "toString(institute_id)"),
    "lms_enrollments": ("enrollment", ["student_id", "course_id"], "status"),
}
"""State table → (entity type, its key columns in the order of the oracle's entity key, a content column)."""
CONTENT = {"institute": "name", "course": "title", "user": "institute_id", "enrollment": "status"}
"""Entity type → the body field the content column holds (``institute_id`` as text, 0 when none)."""


def term_start(today: date) -> date:
    """The Monday seven weeks before ``today``: a four-week term well in the past (no time is clamped)
    and well inside every default retention (no row is due for deletion)."""
    return today - timedelta(days=today.weekday() + 49)


@pytest.fixture(scope="module")
def platforms() -> list[TenantPlatform]:
    start = term_start(datetime.now(UTC).date())
    return generate_platform(
        seed=11, students=150, courses=6, teachers=4, institutes=2, term_start=start, term_days=28
    )


@pytest.fixture
def deployment(kafka_bootstrap: str, tmp_path: Path, platforms: list[TenantPlatform]) -> Iterator[Deployment]:
    tag = uuid.uuid4().hex[:8]
    yield Deployment(
        kafka_bootstrap,
        f"l-{tag}.",
        f"l-{tag}-",
        f"chdb://{tmp_path / 'chdb'}",
        "analytics",
        zones={p.tenant_id: p.time_zone for p in platforms},
        batch_max_messages=20,  # many small batches: the kills land between and inside them
        commit_interval_s=0.2,  # the lag follows the progress closely: the kills are placed by it
    )


def asked(platform: TenantPlatform) -> lms_models.Asked:
    start = term_start(datetime.now(UTC).date())
    days = [start + timedelta(days=n) for n in (0, 6, 20)]
    months = sorted({(d.year, d.month) for d in (start + timedelta(days=n) for n in range(28))})
    courses, assessments, people, video_students = lms_models.ids_of(i.body for i in platform.items)
    return lms_models.Asked(
        platform.tenant_id,
        platform.time_zone,
        courses,
        assessments,
        people,
        video_students,
        days=days,
        weeks=[start + timedelta(days=7)],
        months=months,
        ranges=[(start + timedelta(days=3), start + timedelta(days=17))],
    )


def newest_versions(platforms: list[TenantPlatform]) -> dict[str, set[tuple[str, ...]]]:
    """Per state table, (tenant, key…, version, is_deleted, content) of each entity's newest version."""
    newest: dict[tuple[str, ...], dict[str, Any]] = {}
    for platform in platforms:
        for item in platform.items:
            if item.stream is Stream.LMS_ENTITIES:
                key = (platform.tenant_id, *oracle.entity_key(item.body))
                if key not in newest or newest[key]["version"] < item.body["version"]:
                    newest[key] = item.body
    out: dict[str, set[tuple[str, ...]]] = {table: set() for table in STATE_KEYS}
    tables = {kind: table for table, (kind, _, _) in STATE_KEYS.items()}
    for (tenant, kind, *ids), body in newest.items():
        content = body.get(CONTENT[kind]) or (0 if kind == "user" else "")
        deleted = str(int(body.get("is_deleted", False)))
        out[tables[kind]].add((tenant, *ids, str(body["version"]), deleted, str(content)))
    return out


def stored_queries() -> dict[str, str]:
    queries = {f"ids_{s}": f"SELECT toString(id) FROM {LMS_RAW_TABLES[s]}" for s in LMS_STREAMS}
    for table, (_, keys, content) in STATE_KEYS.items():
        queries[table] = (
            f"SELECT tenant_id, {', '.join(keys)}, version, is_deleted, {content} FROM {table} FINAL"
        )
    return queries


async def test_sigkill_at_random_moments_on_lms_streams_loses_and_duplicates_nothing(
    deployment: Deployment, platforms: list[TenantPlatform]
) -> None:
    requests = stamp_lms(platforms, datetime.now(UTC), PER_REQUEST)
    sent: dict[Stream, Counter[str]] = {s: Counter() for s in LMS_STREAMS}
    for stream, messages in requests:
        sent[stream].update(m["id"] for m in messages)
    assert sum(n > 1 for counter in sent.values() for n in counter.values()) > 0, "no client id re-sent"
    # the last worker drains the rest in batches of the default size: the kills are over
    drain = dataclasses.replace(deployment, batch_max_messages=500)
    with Workers(deployment) as workers:  # the first worker imports while the store is migrated
        await asyncio.gather(deployment.migrate_async(), produce_requests(deployment, requests))
        await kill_workers_during_load(deployment, workers, KILLS, random.Random(77), drain)
        worker = workers.start()
        try:
            await wait_caught_up(deployment, worker, timeout=240)
        finally:
            stop(worker)

    got = query_in_subprocess(deployment.clickhouse_url, deployment.database, stored_queries())
    for stream in LMS_STREAMS:
        stored = Counter(row[0] for row in got[f"ids_{stream}"])
        assert stored == Counter(set(sent[stream])), (stream, stored.most_common(3))
    for table, rows in newest_versions(platforms).items():
        assert {tuple(str(v) for v in row) for row in got[table]} == rows, table
        assert len(got[table]) == len(rows), table

    asks = [asked(p) for p in platforms]
    answers = lms_models.read_models(deployment.clickhouse_url, deployment.database, asks)
    found: list[str] = []
    for platform, ask, answer in zip(platforms, asks, answers, strict=True):
        facts = oracle.facts_of(
            platform.tenant_id, platform.time_zone, ((i.stream.value, i.body) for i in platform.items)
        )
        want = lms_models.oracle_answers(facts, ask)
        assert lms_models.compared(want) >= 50, platform.tenant_id
        found.extend(f"{platform.tenant_id} {line}" for line in lms_models.differences(answer, want))
    assert not found, f"{len(found)} differences:\n" + "\n".join(found[:40])
