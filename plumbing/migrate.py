"""Numbered ClickHouse migrations: ``schemas/migrations/NNNN_name.sql``, applied in order, recorded once.

Contract:
- every statement is idempotent (``CREATE ... IF NOT EXISTS``, ``ADD COLUMN IF NOT EXISTS``; a unit test
  enforces it), so two ``migrate`` processes started at once both succeed: ClickHouse has no DDL
  transactions to lock with, and re-running an idempotent statement is harmless;
- a statement failing because a concurrent ``migrate`` has meanwhile recorded the same migration (and gone
  on: 0014 drops the tables 0013 copies from) counts as applied, not as an error;
- applied versions are recorded in ``schema_migrations`` (a ReplacingMergeTree, read with FINAL) with the
  file's checksum; editing an applied migration is refused instead of silently diverging;
- given a cluster (``ANALYTICS_CLICKHOUSE_CLUSTER``), every statement, ``schema_migrations`` included, runs as
  :mod:`plumbing.cluster_ddl` renders it (ADR 0019); the checksums recorded stay those of the files, so the
  files stay the one source and a store migrated either way reads the same history.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from clickhouse_connect.driver.client import Client

from plumbing.cluster_ddl import ClusterLayout, ClusterRenderer, create_database

MIGRATIONS_PACKAGE = "schemas.migrations"
MIGRATION_TABLE = "schema_migrations"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_MIGRATION_TABLE = f"""
CREATE TABLE IF NOT EXISTS {MIGRATION_TABLE}
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version
"""


class MigrationError(RuntimeError):
    """The migrations on disk and the ones recorded in the database disagree."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def statements(self) -> list[str]:
        """The file's statements: split at ``;`` ending a line, ``--`` comment lines removed."""
        lines = [line for line in self.sql.splitlines() if not line.lstrip().startswith("--")]
        chunks = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
        return [chunk.strip() for chunk in chunks if chunk.strip()]


def load_migrations() -> list[Migration]:
    """Every migration shipped in the package, by version; duplicate versions are an error."""
    found: dict[int, Migration] = {}
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        match = _FILE_NAME.match(entry.name)
        if not match:
            continue
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migrations share version {version:04d}")
        found[version] = Migration(version, match.group(2), entry.read_text(encoding="utf-8"))
    return [found[version] for version in sorted(found)]


@dataclass(frozen=True)
class Rendered:
    """The statements that set up the store for ``layout`` (``None``: one server): ``schema_migrations``
    first, on a cluster after the database (``setup``), then every migration with the statements to run."""

    layout: ClusterLayout | None
    setup: list[str]
    migrations: list[tuple[Migration, list[str]]]


def render_migrations(layout: ClusterLayout | None, migrations: list[Migration] | None = None) -> Rendered:
    """Every migration (``load_migrations()`` unless given) with its statements: the file's as they are for
    one server, else rendered for ``layout`` in migration order (the renderer learns where each table lives
    from the earlier migrations, applied or not)."""
    migrations = load_migrations() if migrations is None else migrations
    if layout is None:
        return Rendered(None, [_CREATE_MIGRATION_TABLE], [(m, m.statements) for m in migrations])
    renderer = ClusterRenderer(layout)
    setup = [create_database(layout), *renderer.render(_CREATE_MIGRATION_TABLE)]
    rendered = [
        (m, [s for statement in m.statements for s in renderer.render(statement)]) for m in migrations
    ]
    return Rendered(layout, setup, rendered)


def applied_migrations(client: Client, create: str | None = _CREATE_MIGRATION_TABLE) -> dict[int, str]:
    """Applied version → checksum, as recorded in the database, after running ``create`` (the single-server
    ``schema_migrations``; ``None`` when the caller created it, as :func:`migrate` does on a cluster)."""
    if create is not None:
        client.command(create)
    rows = client.query(f"SELECT version, checksum FROM {MIGRATION_TABLE} FINAL ORDER BY version").result_rows
    return {int(version): str(checksum) for version, checksum in rows}


def migrate(client: Client, cluster: str | None = None) -> list[Migration]:
    """Apply every pending migration in order; return the ones applied by this call. With ``cluster``, the
    statements are rendered for that cluster of the server ``client`` talks to, in its current database
    (created ``ON CLUSTER`` first, with a replicated ``schema_migrations``)."""
    layout = None
    if cluster is not None:
        layout = ClusterLayout(cluster, str(client.command("SELECT currentDatabase()")))
    rendered = render_migrations(layout)

    def recorded() -> dict[int, str]:
        return applied_migrations(client) if layout is None else applied_migrations(client, None)

    if layout is not None:
        for statement in rendered.setup:
            client.command(statement)
    done = recorded()
    applied_now: list[Migration] = []
    for migration, statements in rendered.migrations:
        recorded_checksum = done.get(migration.version)
        if recorded_checksum is not None:
            if recorded_checksum != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} changed after it was applied; "
                    "add a new migration instead of editing an applied one"
                )
            continue
        try:
            apply(client, migration, statements)
        except Exception:
            if recorded().get(migration.version) != migration.checksum:
                raise
            continue  # another migrate finished it meanwhile, and may already have run later ones
        applied_now.append(migration)
    return applied_now


def apply(client: Client, migration: Migration, statements: list[str] | None = None) -> None:
    """Run ``migration``'s statements (or ``statements``: their cluster rendering) and record it with the
    file's checksum (whether or not it was recorded before)."""
    for statement in migration.statements if statements is None else statements:
        client.command(statement)
    client.insert(
        MIGRATION_TABLE,
        [[migration.version, migration.name, migration.checksum, datetime.now(UTC)]],
        column_names=["version", "name", "checksum", "applied_at"],
    )
