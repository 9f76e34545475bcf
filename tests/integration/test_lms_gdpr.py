"""GDPR erasure of the learning platform's people, against twin tenants (issue 18's acceptance).

Three tenants in the same zone receive the same learning platform through the gateway's stamping and the
embedded pipeline (``BatchWriter``, both agent groups at once): CAMPUS everything; TWIN_S never saw student
S; TWIN_ST saw neither S nor teacher T. What "never saw T" means for the facts that name T without being
T's: gradings T did are there without a grader (``graded_by`` left out), courses T taught list the other
teachers only — the scores and the courses are the students' and the platform's. After S is erased in
CAMPUS, every LMS rollup (aggregate states merged by key) and every LMS raw and current-state table (all
columns but the tenant and the event id) of CAMPUS equals TWIN_S's; after T is erased too, TWIN_ST's. The
platform telemetry rollups hold nobody: equal throughout, never deleted from.

The twins' facts are derived here from the client bodies (the oracle), not from anything the erasure does.
The same holds on a small generated term (``loadgen.lms_platform``: late events, versions out of order,
events before their entities, resent ids).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from ingest_gateway.stamping import stamp
from jobs.erasure import run_pending_deletions
from jobs.erasure_queue import JobStatus, privacy_job, schedule_deletion
from loadgen.lms_platform import generate_platform
from plumbing.migrate import migrate
from plumbing.settings import ZoneLookup
from plumbing.storage import Storage
from privacy.tracking import TrackingFilter
from query_api.export import EXPORT_TABLES, table_chunks, table_shapes
from query_api.main import create_app
from query_api.metrics import QueryMetrics
from query_api.settings import QuerySettings
from query_api.store import QueryStore
from schemas.lms_payloads import LMS_PAYLOADS
from schemas.lms_rollups import LMS_ROLLUPS
from schemas.lms_rows import LMS_RAW_TABLES, LMS_STATE_TABLES, LMS_VIDEO_SESSIONS
from schemas.messages import encode_batch
from schemas.rollup_model import Rollup
from schemas.topics import Stream
from stream_processors.pipeline import BatchWriter, Delivery
from tests.conftest import ClickHouseTarget
from tests.support.auth import token
from tests.support.pipeline import RecordingDeadLetters
from tests.support.rollup_reads import rounded_rows, select_sql

pytestmark = pytest.mark.clickhouse

CAMPUS, TWIN_S, TWIN_ST = "campus", "twin_s", "twin_st"
ZONE = "America/New_York"
S, T = "student:17", "teacher:4"
"""The erased: S is student 17; T is teacher 4, who graded S's quiz and student 18's assignment and teaches
course 5 with teacher 6."""
ENTITIES, ACTIVITY, TELEMETRY = Stream.LMS_ENTITIES, Stream.LMS_ACTIVITY, Stream.LMS_TELEMETRY
PERSONAL_ROLLUPS = [item for item in LMS_ROLLUPS if item.personal]
PLATFORM_ROLLUPS = [item for item in LMS_ROLLUPS if not item.personal]


@dataclass(frozen=True)
class Fact:
    """One client body of an LMS stream, and when the gateway received it."""

    stream: Stream
    body: dict[str, Any]
    received: datetime


def _days() -> list[date]:
    """Five days over six weeks (several ISO weeks, two or three months), ending yesterday."""
    today = datetime.now(UTC).date()
    return [today - timedelta(days=n) for n in (40, 33, 17, 9, 1)]


def _text(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def platform(days: list[date]) -> list[Fact]:
    """An institute, a course (a video, a quiz, an assignment; two versions, the newer sent first),
    students 17, 18, 19, teachers 4 and 6, an admin; enrollments with later versions; sessions, views,
    video watching, quiz and assignment attempts graded by both teachers, a completion, telemetry."""
    d0, d1, d2, d3, d4 = days
    facts: list[Fact] = []

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), UTC)

    def add(stream: Stream, when: datetime, body: dict[str, Any]) -> None:
        facts.append(Fact(stream, {**body, "timestamp": _text(when)}, when + timedelta(minutes=2)))

    def course(version: int, published: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "course",
            "course_id": 5,
            "institute_id": 1,
            "title": 'Algebra "teacher_ids":[4,6]',  # the array's text in a title: must stay as it is
            "teacher_ids": [4, 6],
            "is_published": published,
            "version": version,
        }
        if published:
            body["published_at"] = _text(at(d1, 8))
            body["videos"] = [{"video_id": 51, "duration_seconds": 600}]
            body["assessments"] = [
                {"assessment_id": 61, "assessment_type": "quiz", "max_score": 10, "passing_score": 5},
                {"assessment_id": 62, "assessment_type": "assignment", "max_score": "20.00"},
            ]
        return body

    add(ENTITIES, at(d1, 8), course(2, published=True))  # out of order: the newer version first
    add(ENTITIES, at(d0, 8), course(1, published=False))
    add(ENTITIES, at(d0, 7), {"type": "institute", "institute_id": 1, "name": "North", "version": 1})
    people = [("student", 17), ("student", 18), ("student", 19), ("teacher", 4), ("teacher", 6), ("admin", 2)]
    for kind, ident in people:
        signed_up = _text(at(d0, 7, ident))
        user = {"type": "user", "user_type": kind, "user_id": ident, "institute_id": 1, "version": 1}
        add(ENTITIES, at(d0, 7, ident), {**user, "signed_up_at": signed_up})
    enrolled = _text(at(d0, 9))
    for student, version, day, extra in (
        (17, 1, d0, {"status": "active"}),
        (17, 3, d4, {"status": "completed", "progress_percentage": 100, "completed_at": _text(at(d4, 12))}),
        (17, 2, d2, {"status": "active", "progress_percentage": "40.50"}),
        (18, 1, d0, {"status": "active"}),
        (18, 2, d3, {"status": "active", "progress_percentage": 50}),
        (19, 1, d0, {"status": "active"}),
        (19, 2, d3, {"status": "dropped", "progress_percentage": "12.25", "dropped_at": _text(at(d3, 15))}),
    ):
        body = {"type": "enrollment", "student_id": student, "course_id": 5, "enrolled_at": enrolled}
        add(ENTITIES, at(day, 9, student), {**body, "version": version, **extra})

    def who(subject: str) -> dict[str, Any]:
        kind, ident = subject.split(":")
        return {"user_type": kind, "user_id": int(ident)}

    for n, day in enumerate(days):
        for subject in ("student:17", "student:18", "teacher:4", "teacher:6", "admin:2"):
            if subject == "teacher:6" and n % 2:
                continue
            session = f"{subject.replace(':', '-')}-{day.isoformat()}"
            add(ACTIVITY, at(day, 13), {"type": "login", **who(subject), "session_id": session})
            duration = 1800 + 60 * n
            add(
                ACTIVITY,
                at(day, 13, 30),
                {"type": "logout", **who(subject), "session_id": session, "started_at": _text(at(day, 13)),
                 "duration_seconds": duration, "device_type": "desktop"},
            )  # fmt: skip
    for subject, day in (("student:17", d1), ("student:17", d2), ("student:18", d1), ("teacher:4", d1)):
        view = {"type": "content_viewed", **who(subject), "course_id": 5, "content_id": 71}
        add(ACTIVITY, at(day, 14), view)
    add(
        ACTIVITY,
        at(d2, 15),
        {"type": "progress_updated", **who("student:17"), "course_id": 5, "content_id": 71,
         "progress_percentage": "40.50"},
    )  # fmt: skip
    for subject, day, seconds, percent, device, quality in (
        ("student:17", d1, 500, "83.50", "desktop", "1080p"),
        ("student:18", d2, 600, 100, "mobile", "720p"),
        ("student:17", d3, 120, "20.00", "desktop", "1080p"),
    ):
        add(
            ACTIVITY,
            at(day, 16, 10),
            {"type": "video_watched", **who(subject), "course_id": 5, "video_id": 51,
             "session_id": f"v-{subject.replace(':', '-')}-{day}", "watch_duration": seconds,
             "completion_percentage": percent, "start_time": _text(at(day, 16)),
             "end_time": _text(at(day, 16, 10)), "device_type": device, "playback_quality": quality,
             "buffer_events": 2, "seek_events": 1},
        )  # fmt: skip
    for student, attempt, kind, assessment, start_day, grader, score, passed in (
        (17, 1701, "quiz", 61, d2, 4, "7.50", True),
        (18, 1801, "quiz", 61, d2, 6, 4, False),
        (17, 1702, "assignment", 62, d3, 6, 15, True),
        (18, 1802, "assignment", 62, d3, 4, 18, True),
    ):
        started = at(start_day, 10, student)
        attempt_fields = {
            **who(f"student:{student}"),
            "course_id": 5,
            "assessment_id": assessment,
            "assessment_type": kind,
            "attempt_id": attempt,
            "started_at": _text(started),
            "max_score": 10 if kind == "quiz" else 20,
        }
        add(ACTIVITY, started, {"type": "assessment_started", **attempt_fields})
        submitted = {"submitted_at": _text(started + timedelta(minutes=20)), "time_taken_seconds": 1200}
        add(
            ACTIVITY,
            started + timedelta(minutes=20),
            {"type": "assessment_submitted", **attempt_fields, **submitted},
        )
        graded = {**attempt_fields, **submitted, "score": score, "passed": passed, "graded_by": grader}
        add(ACTIVITY, started + timedelta(days=1), {"type": "assessment_graded", **graded})
    add(
        ACTIVITY,
        at(d3, 10, 19),
        {"type": "assessment_started", **who("student:19"), "course_id": 5, "assessment_id": 61,
         "assessment_type": "quiz", "attempt_id": 1901, "started_at": _text(at(d3, 10, 19)), "max_score": 10},
    )  # fmt: skip
    add(ACTIVITY, at(d4, 12), {"type": "course_completed", **who("student:17"), "course_id": 5})
    add(ACTIVITY, at(d2, 17), {"type": "other", **who("student:19"), "verb": "answered", "course_id": 5})
    for n, day in enumerate(days):
        sample = {"source": "web-1", "interval_seconds": 3600}
        traffic = {"type": "traffic", "requests": 1000 + n, "errors": n, "bytes_served": 10_000 * (n + 1),
                   "latency_ms_sum": 1200.5, "latency_ms_histogram": {"50": 900, "inf": 100 + n},
                   "requests_by_country": {"US": 700, "DE": 300 + n}}  # fmt: skip
        add(TELEMETRY, at(day, 18), {**sample, **traffic})
        add(TELEMETRY, at(day, 18, 5), {**sample, "type": "storage", "storage_used_bytes": 5_000_000 + n})
        add(TELEMETRY, at(day, 18, 10), {**sample, "type": "uptime", "up_seconds": 3600 - n})
    return facts


# ---- the oracle: what a tenant that never saw someone receives ---------------------------------------


def subject_of(fact: Fact) -> str:
    """The person (or entity, or source) a body is about, by the contract's documented rule."""
    body = fact.body
    if fact.stream is TELEMETRY:
        return f"source:{body['source']}"
    if body["type"] in ("institute", "course"):
        return f"{body['type']}:{body[body['type'] + '_id']}"
    if body["type"] == "enrollment":
        return f"student:{body['student_id']}"
    return f"{body['user_type']}:{body['user_id']}"


def never_seeing(facts: list[Fact], people: set[str]) -> list[Fact]:
    """The facts without those of ``people``; a teacher among them is no grader and teaches no course."""
    teachers = {int(p.split(":")[1]) for p in people if p.startswith("teacher:")}
    seen = []
    for fact in facts:
        if subject_of(fact) in people:
            continue
        body = dict(fact.body)
        if body.get("graded_by") in teachers:
            del body["graded_by"]
        if "teacher_ids" in body:
            body["teacher_ids"] = [t for t in body["teacher_ids"] if t not in teachers]
        seen.append(Fact(fact.stream, body, fact.received))
    return seen


# ---- pushing facts through the embedded pipeline ---------------------------------------------------------

_OFFSETS = itertools.count()
ZONES = ZoneLookup("UTC", dict.fromkeys((CAMPUS, TWIN_S, TWIN_ST), ZONE))


async def receive(storage: Storage, tenant: str, facts: list[Fact]) -> list[str]:
    """Stamp every fact as the gateway does and write it as the embedded mode does (raw tables, state and
    feeds in one step); returns the facts' stored ids, in their order."""
    ids: list[str] = []
    by_stream: dict[Stream, list[dict[str, Any]]] = {}
    for fact in facts:
        payload = LMS_PAYLOADS[fact.stream].model_validate(fact.body)
        message = stamp(payload, tenant, fact.received)
        ids.append(message["id"])
        by_stream.setdefault(fact.stream, []).append(message)
    letters = RecordingDeadLetters()
    for stream, messages in by_stream.items():
        writer = BatchWriter(stream, None, "embedded", storage, None, letters, ZONES, TrackingFilter())
        await writer.write([Delivery(f"t.{stream.value}", 0, next(_OFFSETS), encode_batch(messages))])
        assert writer.events_written == len(messages), stream
    assert letters.letters == []
    return ids


# ---- reading a tenant's LMS tables back, comparable across tenants ---------------------------------------


def rollup_content(
    client: Client, tenant: str, rollups: Sequence[Rollup] = LMS_ROLLUPS
) -> dict[str, list[Any]]:
    """Every row of each rollup and grain, tenant left out: aggregate states merged by key with the
    measure's merge expression; a replacing rollup's one row per key (``FINAL``) as stored."""
    content = {}
    for item in rollups:
        keys = [c for c in item.key_columns if c != "tenant_id"]
        for grain in item.grains:
            if item.replacing_version:
                values = [*keys, *(m.name for m in item.measures), item.replacing_version]
                sql = (
                    f"SELECT {', '.join(values)} FROM {item.table} FINAL "
                    f"WHERE grain = '{grain.value}' AND tenant_id = {{t:String}}"
                )
            else:
                sql = select_sql(item, grain, keys, "tenant_id = {t:String}")
            content[f"{item.table}/{grain}"] = rounded_rows(
                client, f"{sql} ORDER BY {', '.join(keys)}", {"t": tenant}
            )
    return content


FACT_TABLES = (*LMS_RAW_TABLES.values(), *LMS_STATE_TABLES.values(), LMS_VIDEO_SESSIONS)


def fact_content(client: Client, tenant: str) -> dict[str, list[str]]:
    """Every row (``FINAL``) of each LMS raw and current-state table, without the tenant and event id
    columns, rendered and sorted: equal facts in two tenants give equal lists."""
    content = {}
    for table in FACT_TABLES:
        columns = [
            str(name)
            for (name,) in client.query(
                "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
                "ORDER BY position",
                parameters={"t": table},
            ).result_rows
            if name not in ("tenant_id", "id")
        ]
        rows = client.query(
            f"SELECT {', '.join(columns)} FROM {table} FINAL WHERE tenant_id = {{t:String}}",
            parameters={"t": tenant},
        ).result_rows
        content[table] = sorted(repr(tuple(row)) for row in rows)
    return content


def erase(client: Client, tenant: str, user: str) -> tuple[int, int, str]:
    """Request and run the erasure of ``user`` (every writer counts as having seen the suppression, as
    nothing writes meanwhile); returns the job's raw and rollup row counts and its detail."""
    job, created = schedule_deletion(client, tenant, user, "dpo")
    assert created
    [outcome] = run_pending_deletions(client, ZONES, lambda *_: True)
    assert (outcome.id, outcome.status) == (job.id, JobStatus.DONE)
    done = privacy_job(client, tenant, job.id)
    assert done is not None
    return done.raw_rows, done.rollup_rows, done.detail


@pytest.fixture
def store(clickhouse: ClickHouseTarget) -> Iterator[tuple[Client, Storage]]:
    client = clickhouse.client()
    migrate(client)
    storage = Storage(clickhouse.client)
    try:
        yield client, storage
    finally:
        storage.close()
        client.close()


async def test_erasing_a_student_then_a_teacher_leaves_what_twins_that_never_saw_them_hold(
    store: tuple[Client, Storage], clickhouse: ClickHouseTarget
) -> None:
    client, storage = store
    facts = platform(_days())
    without_s = never_seeing(facts, {S})
    without_st = never_seeing(facts, {S, T})
    campus_ids = await receive(storage, CAMPUS, facts)
    await receive(storage, TWIN_S, without_s)
    await receive(storage, TWIN_ST, without_st)
    platform_before = rollup_content(client, CAMPUS, PLATFORM_ROLLUPS)
    assert all(platform_before.values())  # telemetry landed in every grain

    # S contributed to every personal rollup, every raw table of people and both state tables of people
    before = rollup_content(client, CAMPUS, PERSONAL_ROLLUPS)
    twin = rollup_content(client, TWIN_S, PERSONAL_ROLLUPS)
    assert [key for key in before if before[key] == twin[key]] == []
    facts_before, twin_facts = fact_content(client, CAMPUS), fact_content(client, TWIN_S)
    assert {t for t in FACT_TABLES if facts_before[t] != twin_facts[t]} == {
        "lms_activity",
        "lms_entity_upserts",
        "lms_users",
        "lms_enrollments",
        "lms_video_sessions",  # the copy of S's watch sessions, by course
    }

    # ---- the export holds S's LMS rows: every raw row of S and their current state
    query_store = QueryStore(clickhouse.client, QueryMetrics(), pool_size=1)
    exported: dict[str, list[Any]] = {}
    try:
        for shape in await table_shapes(query_store):
            exported[shape.name] = [
                dict(zip(shape.columns, row, strict=True))
                async for chunk in table_chunks(query_store, shape, CAMPUS, S, chunk_rows=4)
                for row in chunk
            ]
    finally:
        await query_store.close()
    s_ids = {
        table: {
            stored_id
            for stored_id, f in zip(campus_ids, facts, strict=True)
            if subject_of(f) == S and LMS_RAW_TABLES[f.stream] == table
        }
        for table in ("lms_activity", "lms_entity_upserts")
    }
    assert list(exported) == list(EXPORT_TABLES)
    assert {table: {str(r["id"]) for r in exported[table]} for table in s_ids} == s_ids
    # 5 logins and logouts, 2 views, a progress update, 2 videos, 2 attempts of 3 snapshots, a completion
    assert len(s_ids["lms_activity"]) == 22 and len(s_ids["lms_entity_upserts"]) == 1 + 3
    assert [(r["user_id"], r["lms_user_id"], r["version"]) for r in exported["lms_users"]] == [(S, 17, 1)]
    assert [
        (r["course_id"], r["status"], r["progress_centi"], r["version"]) for r in exported["lms_enrollments"]
    ] == [(5, "completed", 10_000, 3)]
    assert not any(
        exported[t] for t in ("analytics_events", "performance_metrics", "usage_metrics", "activity_logs")
    )

    # ---- erase S: CAMPUS holds what TWIN_S holds
    for table in LMS_STATE_TABLES.values():  # one row per entity, so the state rows deleted are exact
        client.command(f"OPTIMIZE TABLE {table} FINAL")
    raw_rows, rollup_rows, detail = erase(client, CAMPUS, S)
    assert raw_rows == 22 + 4 + 2  # activity, upserts; the user's row and the enrollment
    assert rollup_rows > 0 and "teacher" not in detail
    assert rollup_content(client, CAMPUS) == rollup_content(client, TWIN_S)
    assert fact_content(client, CAMPUS) == fact_content(client, TWIN_S)
    assert rollup_content(client, CAMPUS, PLATFORM_ROLLUPS) == platform_before

    # ---- erase T: the gradings and the course stay, without T; CAMPUS holds what TWIN_ST holds
    assert fact_content(client, CAMPUS) != fact_content(client, TWIN_ST)
    raw_rows, rollup_rows, detail = erase(client, CAMPUS, T)
    assert raw_rows == 2 * 5 + 1 + 1 + 1  # T's logins and logouts, a view; the user upsert; the user row
    assert rollup_rows > 0
    # one grading of student 18's assignment; the course's state row and its two stored versions
    assert "the teacher's id removed from 4 rows of others" in detail, detail
    assert rollup_content(client, CAMPUS) == rollup_content(client, TWIN_ST)
    assert fact_content(client, CAMPUS) == fact_content(client, TWIN_ST)
    assert rollup_content(client, CAMPUS, PLATFORM_ROLLUPS) == platform_before
    teachers = client.query(
        "SELECT teacher_ids, title FROM lms_courses FINAL WHERE tenant_id = {t:String}",
        parameters={"t": CAMPUS},
    ).result_rows
    assert teachers == [([6], 'Algebra "teacher_ids":[4,6]')]
    graders = client.query(
        "SELECT user_id, attempt_id, graded_by FROM lms_activity WHERE tenant_id = {t:String} "
        "AND type = 'assessment_graded' ORDER BY attempt_id",
        parameters={"t": CAMPUS},
    ).result_rows
    assert graders == [("student:18", 1801, 6), ("student:18", 1802, 0)]


async def test_the_twins_agree_on_a_generated_platform_too(store: tuple[Client, Storage]) -> None:
    """A small generated term (late events, versions out of order, events before their entities, resent
    ids): the student with the most graded attempts and the teacher who graded most, erased, leave what
    twins that never saw them hold."""
    client, storage = store
    [generated] = generate_platform(
        2, tenants=[(CAMPUS, ZONE)], students=8, courses=2, teachers=2, institutes=1, term_days=35,
        activity_scale=0.4,
    )  # fmt: skip
    received = datetime(2026, 1, 10, tzinfo=UTC)  # after the term: every item on time or late
    facts = [
        Fact(item.stream, item.body, received + timedelta(milliseconds=n))
        for n, item in enumerate(generated.items)
    ]
    gradings = [f.body for f in facts if f.body["type"] == "assessment_graded" and f.body.get("graded_by")]
    assert gradings, "the generated term has no grading by a teacher: choose another seed"
    student = Counter(f"student:{g['user_id']}" for g in gradings).most_common(1)[0][0]
    teacher = Counter(f"teacher:{g['graded_by']}" for g in gradings).most_common(1)[0][0]
    await receive(storage, CAMPUS, facts)
    await receive(storage, TWIN_S, never_seeing(facts, {student}))
    await receive(storage, TWIN_ST, never_seeing(facts, {student, teacher}))
    assert rollup_content(client, CAMPUS) != rollup_content(client, TWIN_S)

    erase(client, CAMPUS, student)
    assert rollup_content(client, CAMPUS) == rollup_content(client, TWIN_S)
    assert fact_content(client, CAMPUS) == fact_content(client, TWIN_S)
    assert fact_content(client, CAMPUS) != fact_content(client, TWIN_ST)
    *_, detail = erase(client, CAMPUS, teacher)
    assert "the teacher's id removed from" in detail, detail
    assert rollup_content(client, CAMPUS) == rollup_content(client, TWIN_ST)
    assert fact_content(client, CAMPUS) == fact_content(client, TWIN_ST)


async def test_a_snapshot_taken_before_an_erasure_returns_the_same_aggregates(
    store: tuple[Client, Storage], clickhouse: ClickHouseTarget, tmp_path: Path
) -> None:
    """The configuration store keeps a snapshot's aggregates as captured (ADR 0017): after S is erased the
    metric computes what the twin that never saw S computes, and the snapshot still answers the old data."""
    client, storage = store
    days = _days()
    facts = platform(days)
    await receive(storage, CAMPUS, facts)
    await receive(storage, TWIN_S, never_seeing(facts, {S}))
    settings = QuerySettings(
        clickhouse_url=clickhouse.url,
        clickhouse_database=clickhouse.database,
        tenant_timezones={CAMPUS: ZONE, TWIN_S: ZONE},
        query_cache_ttl_s=0,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'config.db'}",
    )
    app = create_app(settings)
    window = {"startDate": days[0].isoformat(), "endDate": days[-1].isoformat()}
    base = "/api/admin/analytics"

    async def metric_of(http: httpx.AsyncClient, tenant: str) -> tuple[int, dict[str, str]]:
        headers = {"authorization": f"Bearer {token('dpo-admin', tenant, ('admin',))}"}
        created = await http.post(
            f"{base}/custom-metrics",
            json={
                "metric_name": "logins",
                "metric_type": "SUM",
                "calculation_config": {"measure": "user_days.logins"},
            },
            headers=headers,
        )
        assert created.status_code == 201, created.text
        return created.json()["data"]["metric_id"], headers

    async def value(http: httpx.AsyncClient, metric: int, headers: dict[str, str]) -> Any:
        answer = await http.post(
            f"{base}/custom-metrics/{metric}/calculate", json={"timeRange": window}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]["value"]

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://query") as http:
        metric, headers = await metric_of(http, CAMPUS)
        twin_metric, twin_headers = await metric_of(http, TWIN_S)
        before = await value(http, metric, headers)
        twin = await value(http, twin_metric, twin_headers)
        assert before == twin + 5  # S's five logins
        taken = await http.post(
            f"{base}/snapshots",
            json={
                "snapshot_name": "before",
                "snapshot_type": "monthly",
                "sources": {"custom_metrics": [metric]},
                "timeRange": window,
            },
            headers=headers,
        )
        assert taken.status_code == 201, taken.text
        snapshot = taken.json()["data"]
        assert [m["value"] for m in snapshot["data"]["custom_metrics"]] == [before]
        assert snapshot["data"]["period_start"] == days[0].isoformat()

        erase(client, CAMPUS, S)

        assert await value(http, metric, headers) == twin  # the rows changed ...
        again = await http.get(f"{base}/snapshots/{snapshot['snapshot_id']}", headers=headers)
        assert again.status_code == 200 and again.json()["data"] == snapshot  # ... the snapshot did not
        listed = await http.get(f"{base}/snapshots", params={"type": "monthly"}, headers=headers)
        assert [s["snapshot_id"] for s in listed.json()["data"]] == [snapshot["snapshot_id"]]
        assert (await http.get(f"{base}/snapshots", headers=twin_headers)).json()["data"] == []
    await app.state.query_store.close()
    await app.state.config_db.close()
