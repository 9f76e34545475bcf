"""Rebuilding rollups from raw tables: after a time-zone change, after a GDPR deletion, and for a narrow
range; idempotent; compared with the independent oracle."""

from __future__ import annotations

import logging
import random
import uuid
from datetime import date
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from jobs.rebuild import rebuild_rollups
from plumbing.migrate import migrate
from plumbing.storage import Storage
from schemas.messages import MESSAGE_MODELS
from schemas.rollups import Grain, rollup
from schemas.rows import raw_rows
from schemas.topics import Stream
from stream_processors.intents import IntentLog
from stream_processors.pipeline import AgentGroup, BatchWriter, ExactlyOncePartitions
from stream_processors.settings import ZoneLookup
from tests.conftest import ClickHouseTarget
from tests.support import rollup_oracle as oracle
from tests.support.examples import example, stamped_page_view
from tests.support.pipeline import InMemoryLog, RecordingDeadLetters
from tests.support.rollup_reads import select_sql

pytestmark = pytest.mark.clickhouse
ALL_UTC = ZoneLookup("UTC", {})
TENANT_ZONES = ZoneLookup("UTC", oracle.TENANT_ZONES)
EVENT_KEYS = ["tenant_id", "user_id", "bucket", "event_type", "event_category", "event_name"]
ACTIVITY_KEYS = ["tenant_id", "user_id", "bucket", "activity_type", "activity_category", "severity"]


async def ingest(clickhouse: ClickHouseTarget, generated: oracle.Generated, zones: ZoneLookup) -> None:
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
        log = InMemoryLog(f"t.{stream.value}")
        log.append_events(events, rng)
        for group in AgentGroup:
            writer = BatchWriter(
                stream, group, f"g-{group.value}", storage, intents, RecordingDeadLetters(), zones
            )
            handler = ExactlyOncePartitions(writer, intents, log)
            for chunk in log.chunks(dict.fromkeys(range(3), 0), rng, max_chunk=400):
                await handler.handle(chunk)
    storage.close()


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

    # GDPR: a user's raw rows go, a rebuild of the tenant removes them from every aggregate
    victim = generated.events[0]["user_id"]
    tenant = generated.events[0]["tenant_id"]
    for table in ("analytics_events", "performance_metrics", "usage_metrics", "activity_logs"):
        client.command(
            f"ALTER TABLE {table} DELETE WHERE user_id = {{u:String}}",
            parameters={"u": victim},
            settings={"mutations_sync": 2},
        )
    rebuild_rollups(client, start, end, TENANT_ZONES, tenant=tenant)
    remaining = oracle.Generated(
        events=[e for e in generated.events if e["user_id"] != victim],
        performance=[e for e in generated.performance if e["user_id"] != victim],
        usage=[e for e in generated.usage if e["user_id"] != victim],
        activities=[e for e in generated.activities if e["user_id"] != victim],
    )
    assert snapshot(client) == expected(remaining)

    # a damaged day is repaired by rebuilding just that day; other buckets are left as they are
    damaged = date(2027, 1, 1)
    client.command(
        f"ALTER TABLE {rollup('user_events').table} DELETE WHERE bucket >= {{d:Date}}",
        parameters={"d": damaged},
        settings={"mutations_sync": 2},
    )
    rebuild_rollups(client, damaged, damaged, TENANT_ZONES)
    assert snapshot(client) == expected(remaining)
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
