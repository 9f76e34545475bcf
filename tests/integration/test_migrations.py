"""Migrations against a real ClickHouse (chDB by default)."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

import plumbing.migrate as migrate_module
from plumbing.clickhouse import open_client
from plumbing.migrate import (
    MIGRATION_TABLE,
    Migration,
    MigrationError,
    applied_migrations,
    apply,
    load_migrations,
    migrate,
)
from schemas.lms_rows import LMS_RAW_COLUMNS, LMS_RAW_TABLES, LMS_STATE_COLUMNS
from schemas.rollups import (
    ALL_GRAINS,
    FEEDS,
    PRODUCT_FEEDS,
    PRODUCT_ROLLUPS,
    ROLLUPS,
    Feed,
    Grain,
    Rollup,
    all_ddl,
    date_buckets,
)
from tests.conftest import ClickHouseTarget
from tests.support.rollup_reads import rounded_rows

pytestmark = pytest.mark.clickhouse

RAW_TABLES = [
    "analytics_events",
    "performance_metrics",
    "usage_metrics",
    "activity_logs",
    "lms_entity_upserts",
    "lms_activity",
    "lms_telemetry",
]


def columns(client: Client, table: str) -> dict[str, str]:
    rows = client.query(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
        "ORDER BY position",
        parameters={"t": table},
    ).result_rows
    return {str(name): str(kind) for name, kind in rows}


def test_apply_twice_creates_the_raw_tables_once(clickhouse_client: Client) -> None:
    first = migrate(clickhouse_client)
    second = migrate(clickhouse_client)
    assert [m.version for m in first] == [m.version for m in load_migrations()]
    assert second == []
    tables = {row[0] for row in clickhouse_client.query("SHOW TABLES").result_rows}
    assert set(RAW_TABLES) | {MIGRATION_TABLE} <= tables
    recorded = clickhouse_client.query(f"SELECT count() FROM {MIGRATION_TABLE} FINAL").result_rows[0][0]
    assert recorded == len(load_migrations())


def test_raw_tables_have_the_seed_columns_and_server_columns(clickhouse_client: Client) -> None:
    migrate(clickhouse_client)
    events = columns(clickhouse_client, "analytics_events")
    assert events["id"] == "UUID"
    assert events["timestamp"] == "DateTime64(3, 'UTC')"
    assert events["received_at"] == "DateTime64(3, 'UTC')"
    assert events["ingested_at"] == "DateTime64(3, 'UTC')"
    assert events["event_type"].startswith("Enum8('user_action' = 1")
    assert events["tenant_id"] == "LowCardinality(String)"
    for name in (
        "user_id",
        "session_id",
        "event_name",
        "properties",
        "source",
        "platform",
        "user_agent",
        "ip_address",
        "location",
    ):
        assert name in events
    perf = columns(clickhouse_client, "performance_metrics")
    assert perf["cumulative_layout_shift"] == "Decimal(9, 3)"
    assert perf["page_load_time"] == "UInt32"
    usage = columns(clickhouse_client, "usage_metrics")
    assert usage["date"] == "Date"
    assert usage["engagement_score"] == "Decimal(5, 2)"
    activity = columns(clickhouse_client, "activity_logs")
    assert activity["tags"] == "Array(String)"
    assert activity["severity"].startswith("Enum8('critical' = 1")


def test_tables_are_partitioned_by_month_and_ordered_for_user_time_reads(clickhouse_client: Client) -> None:
    migrate(clickhouse_client)
    rows = clickhouse_client.query(
        "SELECT name, partition_key, sorting_key, engine FROM system.tables "
        "WHERE database = currentDatabase()"
    ).result_rows
    by_name = {name: (partition, sorting, engine) for name, partition, sorting, engine in rows}
    assert by_name["analytics_events"] == (
        "toYYYYMM(timestamp)",
        "tenant_id, user_id, timestamp, id",
        "ReplacingMergeTree",
    )
    assert by_name["usage_metrics"][:2] == ("toYYYYMM(date)", "tenant_id, user_id, date")
    for table in LMS_RAW_TABLES.values():
        assert by_name[table] == (
            "toYYYYMM(timestamp)",
            "tenant_id, user_id, timestamp, id",
            "ReplacingMergeTree",
        )
    state_keys = {
        "lms_institutes": "tenant_id, institute_id",
        "lms_courses": "tenant_id, course_id",
        "lms_users": "tenant_id, user_id",
        "lms_enrollments": "tenant_id, course_id, user_id",
    }
    for table, key in state_keys.items():
        assert by_name[table] == ("", key, "ReplacingMergeTree"), table


def test_lms_tables_have_exactly_the_columns_the_transforms_fill(clickhouse_client: Client) -> None:
    migrate(clickhouse_client)
    for stream, table in LMS_RAW_TABLES.items():
        assert list(columns(clickhouse_client, table)) == LMS_RAW_COLUMNS[stream], table
    for table, names in LMS_STATE_COLUMNS.items():
        assert list(columns(clickhouse_client, table)) == names, table
    activity = columns(clickhouse_client, "lms_activity")
    assert (activity["course_id"], activity["video_id"], activity["assessment_id"]) == ("UInt64",) * 3
    assert activity["completion_percentage"] == activity["progress_percentage"] == "Nullable(Decimal(5, 2))"
    assert activity["score"] == activity["max_score"] == "Nullable(Decimal(7, 2))"
    assert activity["passed"] == "Nullable(Bool)" and activity["end_time"] == "Nullable(DateTime64(3, 'UTC'))"
    courses = columns(clickhouse_client, "lms_courses")
    assert courses["passing_score_centi"] == "Array(Nullable(UInt64))"
    engines = clickhouse_client.query(
        "SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() "
        "AND name IN {names:Array(String)}",
        parameters={"names": [*LMS_RAW_TABLES.values(), *LMS_STATE_COLUMNS]},
    ).result_rows
    for name, engine in engines:
        version = "received_at" if name in LMS_RAW_TABLES.values() else "version"
        assert engine.startswith(f"ReplacingMergeTree({version})"), name
        assert "non_replicated_deduplication_window = 10000" in engine, name
    skip_indexes = clickhouse_client.query(
        "SELECT expr FROM system.data_skipping_indices "
        "WHERE database = currentDatabase() AND table = 'lms_activity'"
    ).result_rows
    assert {"course_id", "video_id", "assessment_id"} <= {expr for (expr,) in skip_indexes}


def test_edited_applied_migration_is_refused(clickhouse_client: Client) -> None:
    migrate(clickhouse_client)
    first = load_migrations()[0]
    clickhouse_client.command(
        f"INSERT INTO {MIGRATION_TABLE} (version, name, checksum, applied_at) "
        f"VALUES ({first.version}, '{first.name}', 'tampered', now64(3) + 1)"
    )
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(clickhouse_client)


def test_concurrently_started_migrations_both_succeed(clickhouse: ClickHouseTarget) -> None:
    def run() -> list[Migration]:
        client = clickhouse.client()
        try:
            return migrate(client)
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: run(), range(2)))
    assert all(isinstance(result, list) for result in results)
    client = clickhouse.client()
    assert migrate(client) == []
    versions = client.query(f"SELECT version FROM {MIGRATION_TABLE} FINAL ORDER BY version").result_rows
    assert [v for (v,) in versions] == [m.version for m in load_migrations()]
    client.close()


def _feed_rows(feed: Feed, count: int) -> list[list[Any]]:
    """``count`` plausible rows for ``feed``: a few tenants, users, sessions and pages over two months."""
    rows = []
    for index in range(count):
        day = date(2026, 1, 20) + timedelta(days=index % 23)
        day_, week, month = date_buckets(day)
        values: dict[str, Any] = {"day": day_, "week": week, "month": month, "date": day_}
        for column in feed.columns:
            if column.name in values:
                continue
            if "String" in column.type:
                values[column.name] = f"{column.name}-{index % (3 if column.name == 'tenant_id' else 5)}"
            elif column.type.startswith("DateTime64"):
                values[column.name] = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(seconds=index)
            elif column.type == "UInt8":
                values[column.name] = index % 2
            else:
                values[column.name] = (index * 37) % 101 + 0.5 * (column.type == "Float64")
        rows.append([values[c] for c in feed.column_names])
    return rows


def _per_grain_rows(client: Client, item: Rollup, grain: Grain, table: str) -> list[tuple[Any, ...]]:
    """Every stored key of one grain with its measures merged (rounded: quantile states merge in any
    order); the measures the per-grain tables had (later migrations add some)."""
    keys = [c for c in item.key_columns if c != "grain"]
    merged = ", ".join(
        f"{m.merge_expression()} AS {m.name}" for m in item.measures if m.name not in LATER_MEASURES
    )
    where = f" WHERE grain = '{grain.value}'" if table == item.table else ""
    final = " FINAL" if item.replacing_version else ""
    listed = ", ".join(keys)
    sql = f"SELECT {listed}, {merged} FROM {table}{final}{where} GROUP BY {listed} ORDER BY {listed}"
    return rounded_rows(client, sql)


LATER_MEASURES = {"errors", "views_by_page", "events_by_name", "feature_uses", "features_recorded"}
"""Added to ``session_pages`` by 0016 and ``user_usage`` by 0017, after the per-grain tables were gone."""


def test_upgrading_to_one_table_per_rollup_keeps_every_grain_and_a_rerun_copies_nothing_twice(
    clickhouse_client: Client,
) -> None:
    client = clickhouse_client
    migrations = load_migrations()
    before = [m for m in migrations if m.version < 13]
    assert applied_migrations(client) == {}  # creates the record table
    for migration in before:  # the store as it was before 0013
        apply(client, migration)
    for feed in PRODUCT_FEEDS:  # the columns the feeds had then (later migrations add some)
        present = {row[0] for row in client.query(f"DESCRIBE TABLE {feed.table}").result_rows}
        kept = [i for i, name in enumerate(feed.column_names) if name in present]
        rows = [[row[i] for i in kept] for row in _feed_rows(feed, 60)]
        client.insert(feed.table, rows, column_names=[feed.column_names[i] for i in kept])
    old = {
        (item.name, grain): _per_grain_rows(client, item, grain, f"rollup_{item.name}_{grain.value}")
        for item in PRODUCT_ROLLUPS
        for grain in ALL_GRAINS
    }
    assert all(old.values())
    thirteen = next(m for m in migrations if m.version == 13)
    for statement in thirteen.statements:  # 0013 ran once and the process died before recording it
        client.command(statement)

    applied = migrate(client)  # 0013 again, then the rest

    assert [m.version for m in applied][0] == 13
    for item in PRODUCT_ROLLUPS:
        for grain in ALL_GRAINS:
            got = _per_grain_rows(client, item, grain, item.table)
            assert got == (old[item.name, grain] if grain in item.grains else []), (item.name, grain)
    tables = {row[0] for row in client.query("SHOW TABLES").result_rows}
    assert not {t for t in tables if t.endswith(("_daily", "_weekly", "_monthly"))}


def test_migrated_rollups_are_what_the_declarations_create(clickhouse: ClickHouseTarget) -> None:
    migrated = clickhouse.client()
    declared_db = f"{clickhouse.database}_declared"
    declared = open_client(clickhouse.url, declared_db, create_database=True)
    try:
        migrate(migrated)
        for statement in all_ddl():
            declared.command(statement)
        names = [name for item in ROLLUPS for name in (item.table, item.view)]
        names += [feed.table for feed in FEEDS]
        shape = (
            "SELECT name, engine, partition_key, sorting_key, replace(as_select, currentDatabase(), '') "
            "FROM system.tables WHERE database = currentDatabase() AND name IN {names:Array(String)} "
            "ORDER BY name"
        )
        got = migrated.query(shape, parameters={"names": names}).result_rows
        want = declared.query(shape, parameters={"names": names}).result_rows
        assert len(got) == len(names) and got == want
        for item in ROLLUPS:
            assert columns(migrated, item.table) == columns(declared, item.table), item.name
        for feed in FEEDS:
            assert columns(migrated, feed.table) == columns(declared, feed.table), feed.table
        assert {item.name for item in ROLLUPS} > {item.name for item in PRODUCT_ROLLUPS}  # LMS ones too
    finally:
        declared.command(f"DROP DATABASE IF EXISTS {declared_db}")
        declared.close()
        migrated.close()


def test_a_migrate_behind_a_concurrent_one_skips_what_that_one_recorded_meanwhile(
    clickhouse_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second of two concurrent runs read the record before the first finished: by the time it copies
    0013's rows, the first has run 0014 and dropped the tables they come from."""
    migrate(clickhouse_client)
    real = migrate_module.applied_migrations
    reads = []

    def stale_first(client: Client) -> dict[int, str]:
        """Its first read: applied up to 0012 (the other had not recorded 0013 yet); later: the record."""
        reads.append(client)
        recorded = real(client)
        return {v: c for v, c in recorded.items() if v < 13} if len(reads) == 1 else recorded

    monkeypatch.setattr(migrate_module, "applied_migrations", stale_first)

    later = [m.version for m in load_migrations() if m.version > 13]  # idempotent, so run again
    assert [m.version for m in migrate(clickhouse_client)] == later  # 0013's copy failed: recorded
    tables = {row[0] for row in clickhouse_client.query("SHOW TABLES").result_rows}
    assert "rollup_user_events" in tables and "rollup_user_events_daily" not in tables
