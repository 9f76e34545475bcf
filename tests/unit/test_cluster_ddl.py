"""Every shipped migration rendered for a replicated, sharded cluster (ADR 0019, docs/clickhouse-cluster.md):
the rendered DDL parses, runs ``ON CLUSTER``, replicates every MergeTree table, keeps every table's name
behind a ``Distributed`` table sharded by tenant and user, feeds each shard's rollups from its own feed rows,
and keeps the insert-deduplication window; without a cluster, every migration runs exactly as written.

The expectations are read from the single-server files themselves (names, columns, engines), not from the
renderer's catalog, so a renderer that forgot a table fails here. The DDL is parsed by the embedded engine's
``formatQueryOrNull`` (no cluster needed to parse ``ON CLUSTER``)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import plumbing.migrate as migrate_module
from cli.main import main
from plumbing.cluster_ddl import (
    DEDUP_WINDOW_SECONDS,
    SHARD_PATH,
    SHARD_REPLICA,
    SHARED_PATH,
    SHARED_REPLICA,
    ClusterLayout,
    ClusterRenderer,
    ClusterRenderError,
)
from plumbing.migrate import load_migrations, migrate, render_migrations

MIGRATIONS = load_migrations()
LAYOUT = ClusterLayout("analytics_cluster", "analytics")
RENDERED = render_migrations(LAYOUT, MIGRATIONS)
STATEMENTS = RENDERED.setup + [s for _, statements in RENDERED.migrations for s in statements]
ON = "ON CLUSTER 'analytics_cluster'"
SINGLE = [migrate_module._CREATE_MIGRATION_TABLE, *(s for m in MIGRATIONS for s in m.statements)]

CREATE_TABLE = re.compile(
    r"^CREATE TABLE IF NOT EXISTS (\w+)\s*\((.*)\)\s*ENGINE = (\w+)(\(([^)]*)\))?", re.S
)
RENDERED_ENGINE = re.compile(
    r"^CREATE TABLE IF NOT EXISTS (\w+) .*?ENGINE = (\w+)(?:\((.*?)\))?\s*(?:\n|$)", re.S
)


def single_server_tables() -> dict[str, tuple[set[str], str, str]]:
    """Every table the migrations leave on one server: name → (its columns, engine, engine arguments)."""
    tables: dict[str, tuple[set[str], str, str]] = {}
    for statement in SINGLE:
        created = CREATE_TABLE.match(statement.strip())
        if created:
            columns = {line.split()[0] for line in created[2].splitlines() if line.strip()}
            tables[created[1]] = (columns, created[3], (created[5] or "").strip())
        dropped = re.match(r"^DROP TABLE IF EXISTS (\w+)$", statement.strip())
        if dropped:
            del tables[dropped[1]]
    return tables


TABLES = single_server_tables()


def expected_key(columns: set[str]) -> str | None:
    present = [column for column in ("tenant_id", "user_id") if column in columns]
    return f"cityHash64({', '.join(present)})" if present else None


def rendered_creates() -> dict[str, tuple[str, str]]:
    """Rendered ``CREATE TABLE`` name → (engine, arguments), the last one of each name."""
    found = {}
    for statement in STATEMENTS:
        match = RENDERED_ENGINE.match(statement)
        if match:
            found[match[1]] = (match[2], match[3] or "")
    return found


def literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def test_without_a_cluster_every_migration_runs_as_written() -> None:
    single = render_migrations(None, MIGRATIONS)
    assert single.setup == [migrate_module._CREATE_MIGRATION_TABLE]
    assert [m for m, _ in single.migrations] == MIGRATIONS
    for migration, statements in single.migrations:
        assert statements == migration.statements, migration.name


class RecordingClient:
    """Enough of a clickhouse-connect client for :func:`plumbing.migrate.migrate` on an empty store."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.recorded: list[list[Any]] = []

    def command(self, sql: str) -> str:
        self.commands.append(sql)
        return "analytics"

    def query(self, sql: str) -> Any:
        return type("Result", (), {"result_rows": []})()

    def insert(self, table: str, rows: list[list[Any]], column_names: list[str]) -> None:
        self.recorded += rows


@pytest.mark.parametrize("cluster", [None, "analytics_cluster"])
def test_migrate_runs_the_rendering_and_records_the_checksums_of_the_files(cluster: str | None) -> None:
    client = RecordingClient()
    applied = migrate(client, cluster)  # type: ignore[arg-type]
    assert applied == MIGRATIONS
    expected = SINGLE if cluster is None else ["SELECT currentDatabase()", *STATEMENTS]
    assert client.commands == expected
    assert [(row[0], row[1], row[2]) for row in client.recorded] == [
        (m.version, m.name, m.checksum) for m in MIGRATIONS
    ]


PARSE_IN_OWN_PROCESS = "import sys, chdb; print(chdb.query(sys.stdin.read(), 'TSV'))"
"""The embedded engine is one per process, opened on the first store a test of this process used: the parse
check runs in a process of its own, on an in-memory engine, whichever tests ran before it here."""


def test_every_rendered_statement_parses() -> None:
    rows = ", ".join(literal(statement) for statement in STATEMENTS)
    numbered = f"SELECT arrayJoin(arrayEnumerate(a)) AS n, a[n] AS s FROM (SELECT [{rows}] AS a)"
    result = subprocess.run(
        [sys.executable, "-c", PARSE_IN_OWN_PROCESS],
        input=f"SELECT n FROM ({numbered}) WHERE formatQueryOrNull(s) IS NULL",
        capture_output=True,
        text=True,
        check=True,
    )
    unparsed = [STATEMENTS[int(n) - 1][:200] for n in result.stdout.split()]
    assert unparsed == []


def test_every_create_alter_and_drop_runs_on_the_cluster() -> None:
    ddl = [s for s in STATEMENTS if s.split()[0] in {"CREATE", "ALTER", "DROP"}]
    assert len(ddl) > 250
    for statement in ddl:
        head = statement.split("\n", 1)[0]
        assert ON in head, head


def test_no_table_keeps_an_unreplicated_merge_tree_or_its_deduplication_setting() -> None:
    engines = {engine for engine, _ in rendered_creates().values()}
    assert engines <= {
        "Null",
        "Distributed",
        "ReplicatedMergeTree",
        "ReplicatedReplacingMergeTree",
        "ReplicatedAggregatingMergeTree",
    }
    for statement in STATEMENTS:
        assert not re.search(r"ENGINE = (Replacing|Aggregating|Summing|Collapsing)?MergeTree\b", statement)
        assert "non_replicated_deduplication_window" not in statement


def test_every_table_keeps_its_name_behind_a_distributed_table_over_its_local_one() -> None:
    creates = rendered_creates()
    sharded = {name: columns for name, (columns, _, _) in TABLES.items() if expected_key(columns)}
    assert {"analytics_events", "feed_events", "rollup_user_events", "tenant_settings"} <= set(sharded)
    for name, columns in sharded.items():
        key = expected_key(columns)
        assert creates[name] == ("Distributed", f"'{LAYOUT.cluster}', 'analytics', '{name}_local', {key}"), (
            name
        )
        distributed = f"CREATE TABLE IF NOT EXISTS {name} {ON} AS {name}_local\nENGINE = Distributed("
        assert any(s.startswith(distributed) for s in STATEMENTS), name
        engine, arguments = creates[f"{name}_local"]
        assert engine == "Null" or arguments.startswith(f"'{SHARD_PATH}', '{SHARD_REPLICA}'"), name
    assert expected_key(TABLES["analytics_events"][0]) == "cityHash64(tenant_id, user_id)"
    assert expected_key(TABLES["tenant_settings"][0]) == "cityHash64(tenant_id)"


def test_tables_without_tenant_or_user_are_one_replica_set_over_the_cluster_under_their_names() -> None:
    creates = rendered_creates()
    unsharded = [name for name, (columns, _, _) in TABLES.items() if expected_key(columns) is None]
    assert sorted(unsharded) == [
        "dead_letters",
        "event_id_lookups",
        "schema_migrations",
        "stream_batch_intents",
    ]
    for name in unsharded:
        engine, arguments = creates[name]
        assert engine.startswith("Replicated"), name
        assert arguments.startswith(f"'{SHARED_PATH}', '{SHARED_REPLICA}'"), name
        assert f"{name}_local" not in creates


def test_engines_keep_their_arguments_after_the_replication_ones() -> None:
    creates = rendered_creates()
    for name, (columns, engine, arguments) in TABLES.items():
        local = f"{name}_local" if expected_key(columns) else name
        rendered_engine, rendered_arguments = creates[local]
        if engine == "Null":
            assert rendered_engine == "Null"
            continue
        assert rendered_engine == f"Replicated{engine}", name
        assert rendered_arguments.split(", ", 2)[2:] == ([arguments] if arguments else []), name


def test_deduplication_windows_move_to_the_replicated_settings_with_a_week_of_age() -> None:
    for statement in SINGLE:
        created = CREATE_TABLE.match(statement.strip())
        window = re.search(r"non_replicated_deduplication_window = (\d+)", statement)
        if not (created and window):
            continue
        name = created[1]
        columns = {line.split()[0] for line in created[2].splitlines() if line.strip()}
        local = f"{name}_local" if expected_key(columns) else name
        (rendered,) = [s for s in STATEMENTS if s.startswith(f"CREATE TABLE IF NOT EXISTS {local} ")]
        assert f"replicated_deduplication_window = {window[1]}" in rendered, name
        assert f"replicated_deduplication_window_seconds = {DEDUP_WINDOW_SECONDS}" in rendered, name


def test_materialized_views_read_the_shards_feed_and_write_its_rollup() -> None:
    views = [s for s in STATEMENTS if s.startswith("CREATE MATERIALIZED VIEW")]
    single_views = [s for s in SINGLE if s.startswith("CREATE MATERIALIZED VIEW")]
    assert len(views) == len(single_views) > 20
    modified = [s for s in STATEMENTS if re.match(r"ALTER TABLE mv_\w+ ", s)]
    assert len(modified) == 2
    for statement in [*views, *modified]:
        target = re.search(r" TO (\w+) AS\n", statement)
        assert target is None or target[1].endswith("_local"), statement[:120]
        reads = re.findall(r"\bFROM (\w+)", statement)
        assert reads and all(read.endswith("_local") for read in reads), statement[:120]


def test_replacing_rollups_are_written_on_the_shard_their_distributed_table_routes_to() -> None:
    """A replacing rollup's versions must meet on one shard for ``FINAL``: its view writes on the shard of
    the feed row, so the feed's sharding key must be the rollup's (aggregating rollups are merged by the
    readers' GROUP BY whatever the shard, so their keys may differ)."""
    renderer = ClusterRenderer(LAYOUT)
    for statement in SINGLE:
        renderer.render(statement)
        view = re.match(
            r"CREATE MATERIALIZED VIEW IF NOT EXISTS \w+ TO (\w+) AS\n.*?\bFROM (\w+)", statement, re.S
        )
        if view:
            target, source = renderer.tables[view[1]], renderer.tables[view[2]]
            assert target.sharding_key is not None and source.sharding_key is not None
            if target.replacing:
                assert target.sharding_key == source.sharding_key, view[1]


def test_column_changes_reach_the_local_and_the_distributed_table_ttls_the_local_one_only() -> None:
    renderer = ClusterRenderer(LAYOUT)
    checked = 0
    for statement in SINGLE:
        rendered = renderer.render(statement)
        altered = re.match(r"ALTER TABLE (\w+) (ADD COLUMN|MODIFY TTL)", statement)
        if not altered or altered[1].startswith("mv_"):
            continue
        name = altered[1]
        checked += 1
        heads = [s.split(" " + ON, 1)[0] for s in rendered]
        if altered[2] == "MODIFY TTL":
            assert heads == [f"ALTER TABLE {name}_local"], name
        else:
            assert heads == [f"ALTER TABLE {name}_local", f"ALTER TABLE {name}"], name
            assert rendered[0].split(ON, 1)[1] == rendered[1].split(ON, 1)[1]
    assert checked > 40


def test_dropped_tables_go_with_their_local_tables_and_free_their_keeper_paths() -> None:
    drops = [s for s in STATEMENTS if s.startswith("DROP TABLE")]
    single_drops = [s for s in SINGLE if s.startswith("DROP TABLE")]
    assert len(drops) == 2 * len(single_drops) == 42
    assert all(s.endswith(" SYNC") for s in drops)


def test_copies_run_through_the_distributed_tables_in_the_foreground_with_their_tokens() -> None:
    inserts = [s for s in STATEMENTS if s.startswith("INSERT")]
    assert len(inserts) == len([s for s in SINGLE if s.startswith("INSERT")]) > 0
    for statement in inserts:
        foreground = r"SETTINGS distributed_foreground_insert = 1, insert_deduplication_token = '00\d\d/"
        assert re.search(foreground, statement), statement


@pytest.mark.parametrize(
    ("statements", "message"),
    [
        (["CREATE TABLE t (a UInt8) ENGINE = Memory"], "ENGINE = Memory"),
        (
            ["CREATE TABLE t (tenant_id String) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY a"],
            "Replicated",
        ),
        (["CREATE TABLE t_local (a UInt8) ENGINE = MergeTree ORDER BY a"], "renderer's own"),
        (["CREATE TABLE t AS u ENGINE = MergeTree ORDER BY a"], "no cluster rendering"),
        (["CREATE MATERIALIZED VIEW v ENGINE = MergeTree ORDER BY a AS SELECT 1"], "no cluster rendering"),
        (["ALTER TABLE nowhere ADD COLUMN a UInt8"], "not created by an earlier statement"),
        (["SELECT 1"], "no cluster rendering"),
        (["RENAME TABLE a TO b"], "no cluster rendering"),
        (["INSERT INTO nowhere SELECT 1"], "not created"),
        (
            [
                "CREATE TABLE f (tenant_id String, user_id String) ENGINE = Null",
                "CREATE TABLE g (tenant_id String, user_id String) ENGINE = Null",
                "CREATE TABLE r (tenant_id String) ENGINE = MergeTree ORDER BY tenant_id",
                "CREATE MATERIALIZED VIEW v TO r AS SELECT tenant_id FROM f JOIN g USING tenant_id",
            ],
            "joins the sharded g",
        ),
        (
            [
                "CREATE TABLE q (a UInt8) ENGINE = MergeTree ORDER BY a",
                "CREATE TABLE r (tenant_id String) ENGINE = MergeTree ORDER BY tenant_id",
                "CREATE MATERIALIZED VIEW v TO r AS SELECT '' AS tenant_id FROM q",
            ],
            "unsharded source",
        ),
        (["CREATE TABLE v2 (a UInt8) ENGINE = Null", "DROP VIEW IF EXISTS v2"], "created as a Null"),
    ],
)
def test_what_the_renderer_cannot_place_is_refused(statements: list[str], message: str) -> None:
    renderer = ClusterRenderer(LAYOUT)
    with pytest.raises(ClusterRenderError, match=re.escape(message)):
        for statement in statements:
            renderer.render(statement)


@pytest.mark.parametrize(
    ("cluster", "database"), [("a.b", "analytics"), ("x'y", "analytics"), ("", "analytics"), ("c", "1x")]
)
def test_names_that_would_break_the_ddl_are_refused(cluster: str, database: str) -> None:
    with pytest.raises(ClusterRenderError, match="invalid"):
        ClusterLayout(cluster, database)


@pytest.fixture
def no_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("--print-ddl opened a store")

    monkeypatch.setattr("plumbing.clickhouse.open_for_command", refuse)
    yield


def test_print_ddl_prints_the_cluster_rendering_without_a_store(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_store: None
) -> None:
    monkeypatch.setenv("ANALYTICS_CLICKHOUSE_CLUSTER", "analytics_cluster")
    monkeypatch.setenv("ANALYTICS_CLICKHOUSE_DATABASE", "analytics")
    assert main(["migrate", "--print-ddl"]) == 0
    out = capsys.readouterr().out
    for statement in STATEMENTS:
        assert f"{statement.strip()};\n" in out
    assert all(f"-- {m.version:04d}_{m.name} (sha256 {m.checksum[:12]})" in out for m in MIGRATIONS)


def test_print_ddl_without_a_cluster_prints_the_files_statements(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_store: None
) -> None:
    monkeypatch.delenv("ANALYTICS_CLICKHOUSE_CLUSTER", raising=False)
    assert main(["migrate", "--print-ddl"]) == 0
    out = capsys.readouterr().out
    assert "ON CLUSTER" not in out
    assert all(f"{statement.strip()};\n" in out for statement in SINGLE)


def test_a_cluster_on_the_embedded_engine_or_a_bad_name_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], no_store: None
) -> None:
    assert main(["migrate", "--clickhouse-url", "chdb://./var/x", "--cluster", "prod"]) == 1
    assert main(["migrate", "--print-ddl", "--cluster", "a.b"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "migrate: the cluster 'prod' needs ClickHouse servers, not the embedded chdb://./var/x"
    assert err[1].startswith("migrate: invalid cluster name 'a.b'")
