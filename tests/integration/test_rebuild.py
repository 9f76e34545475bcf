"""Rebuilding rollups from raw tables: after a time-zone change, after a GDPR deletion, and for a narrow
range; idempotent; compared with the independent oracle."""

from __future__ import annotations

import logging
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from jobs.rebuild import rebuild_rollups
from jobs.retention import wait_for_deletes
from plumbing.clickhouse import open_client
from plumbing.migrate import migrate
from plumbing.storage import Storage
from schemas.lms_rollups import LMS_ROLLUPS
from schemas.messages import MESSAGE_MODELS, encode_batch
from schemas.rollups import ROLLUPS, Grain, rollup
from schemas.rows import raw_rows
from schemas.topics import LMS_STREAMS, Stream
from stream_processors.intents import Intent, IntentLog
from stream_processors.pipeline import AgentGroup, BatchWriter, Delivery, ExactlyOncePartitions
from stream_processors.settings import ZoneLookup
from tests.conftest import ClickHouseTarget
from tests.support import rollup_oracle as oracle
from tests.support.examples import example, stamped_page_view
from tests.support.lms_stamps import lms_stamped
from tests.support.pipeline import InMemoryLog, RecordingDeadLetters
from tests.support.rollup_reads import rounded_rows, select_sql

pytestmark = pytest.mark.clickhouse
ALL_UTC = ZoneLookup("UTC", {})
TENANT_ZONES = ZoneLookup("UTC", oracle.TENANT_ZONES)
EVENT_KEYS = ["tenant_id", "user_id", "bucket", "event_type", "event_category", "event_name"]
ACTIVITY_KEYS = ["tenant_id", "user_id", "bucket", "activity_type", "activity_category", "severity"]


async def ingest(clickhouse: ClickHouseTarget, generated: oracle.Generated, zones: ZoneLookup) -> None:
    """Every stream's events stored by both agent groups as the workers store them, in one batch per stream
    and group: one insert per table, so one part per month partition. The deletions that follow (the GDPR
    one, the rebuilds' of buckets) are mutations done part by part, a fraction of a second each on chDB's
    two background threads: with the parts of many small batches they took most of the test's time."""
    storage = Storage(clickhouse.client)
    intents = IntentLog(storage)
    rng = random.Random(1)
    streams = {
        Stream.EVENTS: generated.events,
        Stream.ACTIVITIES: generated.activities,
        Stream.USAGE: generated.usage,
        Stream.PERFORMANCE: generated.performance,
    }
    for stream, events in streams.items():
        log = InMemoryLog(f"t.{stream.value}", partitions=1)
        log.append_events(events, rng)
        for group in AgentGroup:
            writer = BatchWriter(
                stream, group, f"g-{group.value}", storage, intents, RecordingDeadLetters(), zones
            )
            await ExactlyOncePartitions(writer, intents, log).handle(log.partitions[0])
    storage.close()


def merge_rollup_parts(client: Client) -> None:
    """Merge each rollup table's parts now, as the server's background merges do in time. A rebuild
    inserts each tenant's month of each stream on its own (a part in every rollup it feeds), and the next
    rebuild first deletes its buckets: a mutation done part by part, some twenty parts a second on chDB's
    two background threads, which with the hundreds of parts of a rebuild over ten months took seconds."""
    for item in ROLLUPS:
        client.command(f"OPTIMIZE TABLE {item.table} FINAL")


def snapshot(client: Client) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for grain in Grain:
        out[f"events_{grain}"] = {
            tuple(r[:6]): r[6]
            for r in client.query(select_sql(rollup("user_events"), grain, EVENT_KEYS)).result_rows
        }
        out[f"sessions_{grain}"] = {
            tuple(r[:3]): r[4]
            for r in client.query(
                select_sql(rollup("user_events"), grain, ["tenant_id", "user_id", "bucket"])
            ).result_rows
        }
        out[f"activities_{grain}"] = {
            tuple(r[:6]): r[6]
            for r in client.query(select_sql(rollup("user_activities"), grain, ACTIVITY_KEYS)).result_rows
        }
        out[f"usage_{grain}"] = {
            tuple(r[:3]): tuple(r[3:7])
            for r in client.query(
                select_sql(rollup("user_usage"), grain, ["tenant_id", "user_id", "bucket"])
            ).result_rows
        }
        out[f"pages_{grain}"] = {
            tuple(r[:4]): (r[4], r[5])
            for r in client.query(
                select_sql(rollup("page_views"), grain, ["tenant_id", "user_id", "bucket", "page"])
            ).result_rows
        }
        out[f"perf_{grain}"] = {
            tuple(r[:4]): r[4]
            for r in client.query(
                select_sql(rollup("user_performance"), grain, ["tenant_id", "user_id", "bucket", "page"])
            ).result_rows
        }
    return out


def expected(generated: oracle.Generated) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for grain in Grain:
        counts, sessions = oracle.expected_user_events(generated.events, grain.value)
        out[f"events_{grain}"] = counts
        out[f"sessions_{grain}"] = sessions
        out[f"activities_{grain}"] = oracle.expected_activities(generated.activities, grain.value)
        out[f"usage_{grain}"] = oracle.expected_usage(generated.usage, grain.value)
        out[f"pages_{grain}"] = oracle.expected_page_views(generated.events, grain.value)
        out[f"perf_{grain}"] = {
            k: v["samples"]
            for k, v in oracle.expected_performance(generated.performance, grain.value).items()
        }
    return out


async def test_rebuild_after_zone_change_gdpr_deletion_and_for_a_narrow_range(
    clickhouse: ClickHouseTarget,
) -> None:
    generated = oracle.generate(4_000, users=24, seed=17)
    client = clickhouse.client()
    migrate(client)
    await ingest(clickhouse, generated, ALL_UTC)  # buckets written with every tenant on UTC
    assert snapshot(client) != expected(generated)

    start, end = date(2026, 3, 1), date(2027, 1, 2)
    report = rebuild_rollups(client, start, end, TENANT_ZONES)  # the zones are now configured
    assert report.tenants == 4 and report.events > 0
    assert snapshot(client) == expected(generated)
    merge_rollup_parts(client)

    # GDPR: a user's raw rows go, a rebuild of the tenant removes them from every aggregate
    victim = generated.events[0]["user_id"]
    tenant = generated.events[0]["tenant_id"]
    raw_tables = ["analytics_events", "performance_metrics", "usage_metrics", "activity_logs"]
    for table in raw_tables:  # queued together, waited for together
        client.command(f"ALTER TABLE {table} DELETE WHERE user_id = {{u:String}}", parameters={"u": victim})
    wait_for_deletes(client, raw_tables)
    rebuild_rollups(client, start, end, TENANT_ZONES, tenant=tenant)
    remaining = oracle.Generated(
        events=[e for e in generated.events if e["user_id"] != victim],
        performance=[e for e in generated.performance if e["user_id"] != victim],
        usage=[e for e in generated.usage if e["user_id"] != victim],
        activities=[e for e in generated.activities if e["user_id"] != victim],
    )
    assert snapshot(client) == expected(remaining)
    merge_rollup_parts(client)

    # a damaged day is repaired by rebuilding just that day; other buckets are left as they are
    damaged = date(2027, 1, 1)
    client.command(
        f"ALTER TABLE {rollup('user_events').table} DELETE WHERE bucket >= {{d:Date}}",
        parameters={"d": damaged},
        settings={"mutations_sync": 2},
    )
    rebuild_rollups(client, damaged, damaged, TENANT_ZONES)
    assert snapshot(client) == expected(remaining)
    merge_rollup_parts(client)
    rebuild_rollups(client, damaged, damaged, TENANT_ZONES)  # idempotent
    assert snapshot(client) == expected(remaining)
    client.close()


def _store_raw(client: Client, stream: Stream, messages: list[dict[str, Any]]) -> None:
    models = [MESSAGE_MODELS[stream].model_validate(m) for m in messages]
    for batch in raw_rows(stream, models):
        client.insert(batch.table, batch.data, column_names=batch.columns, column_oriented=True)


def _copy_row(client: Client, table: str, source: str, copy: str, replaced: str) -> None:
    """A raw row written as storage allowed before the time range: a copy of row ``source`` with id ``copy``
    and ``replaced`` (an SQL ``expression AS column``), straight into the table. (The row is chosen in a
    subquery: in the outer one, ``id`` would name the replacement.)"""
    client.command(
        f"INSERT INTO {table} SELECT * REPLACE (toUUID({{copy:String}}) AS id, {replaced}) "
        f"FROM (SELECT * FROM {table} WHERE id = toUUID({{source:String}}))",
        parameters={"copy": copy, "source": source},
    )


async def test_rebuild_skips_raw_rows_dated_1970_reports_them_and_rebuilds_the_rest(
    clickhouse: ClickHouseTarget, caplog: pytest.LogCaptureFixture
) -> None:
    client = clickhouse.client()
    migrate(client)
    # the TTL backstops delete rows this old at their next merge; until then a rebuild reads them
    tables = client.query("SELECT name FROM system.tables WHERE database = currentDatabase()").result_rows
    for (table,) in tables:
        client.command(f"SYSTEM STOP TTL MERGES {table}")
    # the rows in range are of 1971 too: a rebuild reads 1970 only when its range starts there, and one month
    # of 1970 to 2026 at a time would take minutes
    event = stamped_page_view("u1", "s1", "1971-01-02T10:00:00.000Z", "1971-01-02T10:00:01.000Z", "acme")
    usage = {
        **example(Stream.USAGE, "valid_minimal.json"),
        "tenant_id": "acme",
        "id": str(uuid.uuid4()),
        "user_id": "u1",
        "date": "1971-01-02",
        "received_at": "1971-01-02T10:00:01.000Z",
        "schema_version": 1,
    }
    _store_raw(client, Stream.EVENTS, [event])
    _store_raw(client, Stream.USAGE, [usage])
    old_event, old_usage = str(uuid.uuid4()), str(uuid.uuid4())
    _copy_row(
        client,
        "analytics_events",
        event["id"],
        old_event,
        "toDateTime64('1970-12-30 10:00:00', 3, 'UTC') AS timestamp",
    )
    _copy_row(client, "usage_metrics", usage["id"], old_usage, "toDate('1970-12-30') AS date")

    with caplog.at_level(logging.WARNING, logger="jobs.rebuild"):
        report = rebuild_rollups(client, date(1970, 12, 28), date(1971, 1, 3), TENANT_ZONES)

    assert (report.events, report.skipped, report.skipped_ids) == (2, 2, [old_event, old_usage])
    assert snapshot(client) == expected(oracle.Generated(events=[event], usage=[usage]))
    logged = [r.getMessage() for r in caplog.records if r.name == "jobs.rebuild"]
    assert len(logged) == 2 and old_event in logged[0] and old_usage in logged[1], logged
    client.close()


# ---- the learning platform's rollups ---------------------------------------------------------------------

LMS_ZONES = ZoneLookup("UTC", {"berlin": "Europe/Berlin"})
LMS_REBUILT = {
    Grain.DAY: (date(2026, 3, 1), date(2026, 3, 31)),
    Grain.MONTH: (date(2026, 3, 1), date(2026, 3, 31)),
}
LMS_REBUILT[Grain.WEEK] = (date(2026, 2, 23), date(2026, 4, 5))  # the weeks touching March
_MARCH = datetime(2026, 3, 2, tzinfo=UTC)


def _when(rng: random.Random) -> str:
    """A time whose local day is in March both in UTC and in Berlin (02 to 30 March, before 20:00 UTC)."""
    moment = _MARCH + timedelta(minutes=rng.randrange(28 * 24 * 60 + 20 * 60))
    return moment.isoformat().replace("+00:00", "Z")


def _lms_bodies(rng: random.Random) -> dict[Stream, list[dict[str, Any]]]:
    """A few students' month of activity in two courses, enrollment versions, telemetry samples, and an
    attempt started on 30 March but graded on 20 April (after the rebuilt range)."""
    activity: list[dict[str, Any]] = []
    for _ in range(160):
        who = {"user_type": "student", "user_id": rng.randint(1, 5), "timestamp": _when(rng)}
        course = rng.randint(1, 2)
        kind = rng.choice(
            ["login", "logout", "content_viewed", "video_watched", "course_completed", "quiz", "other"]
        )
        if kind == "logout":
            activity.append({**who, "type": kind, "duration_seconds": rng.randint(60, 4000)})
        elif kind == "content_viewed":
            activity.append({**who, "type": kind, "course_id": course, "content_id": rng.randint(1, 9)})
        elif kind == "video_watched":
            activity.append(
                {
                    **who,
                    "type": kind,
                    "course_id": course,
                    "video_id": rng.randint(1, 3),
                    "session_id": "v",
                    "watch_duration": rng.randint(1, 900),
                    "completion_percentage": rng.randint(0, 10000) / 100,
                    "start_time": who["timestamp"],
                    "device_type": rng.choice(["mobile", "desktop"]),
                }
            )
        elif kind == "quiz":
            attempt = {
                **who,
                "course_id": course,
                "assessment_id": rng.randint(1, 2),
                "attempt_id": len(activity),
                "assessment_type": rng.choice(["quiz", "assignment"]),
                "started_at": who["timestamp"],
                "max_score": 10,
            }
            activity.append({**attempt, "type": "assessment_started"})
            activity.append({**attempt, "type": "assessment_submitted", "submitted_at": who["timestamp"]})
        elif kind == "other":
            activity.append({**who, "type": kind, "verb": "answered"})
        else:
            activity.append({**who, "type": kind, **({"course_id": course} if kind != "login" else {})})
    late = {
        "user_type": "student",
        "user_id": 1,
        "course_id": 1,
        "assessment_id": 1,
        "assessment_type": "quiz",
        "attempt_id": 9999,
        "started_at": "2026-03-30T19:00:00Z",
        "max_score": 10,
    }
    activity.append({**late, "type": "assessment_started", "timestamp": "2026-03-30T19:00:00Z"})
    activity.append({**late, "type": "assessment_graded", "timestamp": "2026-04-20T10:00:00Z", "score": 7})
    enrollments = [
        {
            "type": "enrollment",
            "student_id": student,
            "course_id": course,
            "enrolled_at": "2026-03-01T08:00:00Z",
            "progress_percentage": version * 20,
            "version": version,
            "timestamp": _when(rng),
        }
        for student in range(1, 6)
        for course in (1, 2)
        for version in (1, 2, 3)
    ]
    telemetry = [
        {
            "type": "traffic",
            "source": "web",
            "interval_seconds": 60,
            "timestamp": _when(rng),
            "requests": 10,
            "errors": 1,
            "requests_by_country": {"DE": 10},
        }
        for _ in range(20)
    ] + [
        {
            "type": "storage",
            "source": "db",
            "interval_seconds": 60,
            "timestamp": _when(rng),
            "storage_used_bytes": rng.randint(1, 10**9),
        }
        for _ in range(20)
    ]
    rng.shuffle(enrollments)
    return {Stream.LMS_ACTIVITY: activity, Stream.LMS_ENTITIES: enrollments, Stream.LMS_TELEMETRY: telemetry}


async def _ingest_lms(
    target: ClickHouseTarget, batches: dict[Stream, list[dict[str, Any]]], zones: ZoneLookup
) -> None:
    storage = Storage(target.client)
    for offset, (stream, messages) in enumerate(batches.items()):
        writer = BatchWriter(stream, None, "embedded", storage, None, RecordingDeadLetters(), zones)
        value = encode_batch(messages)
        await writer.write(
            [Delivery(stream.value, 0, offset, value)], Intent("e", stream.value, 0, offset, offset)
        )
        assert writer.events_written == len(messages)
    storage.close()


def lms_snapshot(client: Client) -> dict[tuple[str, Grain], list[tuple[Any, ...]]]:
    """Every LMS rollup's rows in the buckets the LMS test rebuilds (March), each key's measures merged,
    per grain."""
    out = {}
    for item in LMS_ROLLUPS:
        keys = [c for c in item.key_columns if c != "grain"]
        for grain in item.grains:
            first, last = LMS_REBUILT[grain]
            inside = f"bucket BETWEEN '{first}' AND '{last}'"
            if item.replacing_version:  # one row per key: its newest version as it is
                names = ", ".join(c.name for c in item.columns())
                sql = f"SELECT {names} FROM {item.table} FINAL WHERE grain = '{grain.value}' AND {inside}"
            else:
                sql = select_sql(item, grain, keys, inside)
            out[item.name, grain] = sorted(rounded_rows(client, sql), key=repr)
    return out


async def test_rebuild_recomputes_the_lms_rollups_from_the_lms_raw_tables(
    clickhouse: ClickHouseTarget,
) -> None:
    rng = random.Random(3)
    batches = {
        stream: [lms_stamped(stream, body, tenant) for tenant in ("berlin", "acme") for body in bodies]
        for stream, bodies in _lms_bodies(rng).items()
    }
    live = ClickHouseTarget(clickhouse.url, f"{clickhouse.database}_live")
    live_client = open_client(live.url, live.database, create_database=True)
    client = clickhouse.client()
    try:
        migrate(live_client)
        await _ingest_lms(live, batches, LMS_ZONES)  # as ingested with Berlin's zone configured
        want = lms_snapshot(live_client)
        migrate(client)
        await _ingest_lms(clickhouse, batches, ALL_UTC)
        assert lms_snapshot(client) != want

        report = rebuild_rollups(client, date(2026, 3, 1), date(2026, 3, 31), LMS_ZONES)

        # every raw row but the April grading (outside the range) fed the rebuilt buckets
        assert report.events == sum(len(m) for m in batches.values()) - 2
        assert lms_snapshot(client) == want
        graded = client.query(
            "SELECT state, score_centi FROM rollup_lms_attempts FINAL WHERE attempt_id = 9999"
        )
        assert graded.result_rows == [("graded", 700), ("graded", 700)]  # both tenants'
        rebuild_rollups(client, date(2026, 3, 1), date(2026, 3, 31), LMS_ZONES)  # idempotent
        assert lms_snapshot(client) == want
    finally:
        live_client.command(f"DROP DATABASE IF EXISTS {live.database}")
        live_client.close()
        client.close()
    assert set(LMS_STREAMS) == set(batches)
