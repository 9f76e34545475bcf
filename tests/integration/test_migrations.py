"""Migrations against a real ClickHouse (chDB by default)."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from clickhouse_connect.driver.client import Client

from schemas.migrate import MIGRATION_TABLE, Migration, MigrationError, load_migrations, migrate
from tests.conftest import ClickHouseTarget

pytestmark = pytest.mark.clickhouse

RAW_TABLES = ["analytics_events", "performance_metrics", "usage_metrics", "activity_logs"]


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
