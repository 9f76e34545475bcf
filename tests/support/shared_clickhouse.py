"""One migrated ClickHouse database for every test of a module, emptied before each test (the fixture
:func:`tests.conftest.shared_clickhouse`).

Migrating a database runs some 220 DDL statements: 3 s here, 6-10 s on a loaded CI machine, per test of the
modules that took a fresh database each. Those now migrate once per module, and before each test
:func:`empty` puts the database back to the state migrating left it in, then checks that it is: no
unfinished mutation, every table the migrations made (and no other) with its definition unchanged, no row
in any of them, ``schema_migrations`` as recorded. A test that altered the schema, or a table of an engine
whose rows a TRUNCATE might not reach, makes the next test's setup fail instead of leaving state behind.

What no query can check is insert deduplication: a table with ``non_replicated_deduplication_window`` keeps
the block ids of its last inserts (the ``insert_deduplication_token``, else a hash of the rows) and drops a
repeat silently. TRUNCATE forgets them on chDB 26 (``tests/integration/test_retention.py`` fills the same
rows before each of its tests), but a module relying on a server doing the same could see fewer rows
without noticing. So a module that repeats inserts across its tests checks what its setup stored, and one
that names tokens makes them its test's own (the embedded bus's offsets, which its tokens carry, start at
the clock).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.client import Client

from plumbing.clickhouse import open_client
from plumbing.migrate import MIGRATION_TABLE, migrate
from tests.conftest import ClickHouseTarget

STATELESS_ENGINES = frozenset({"MaterializedView", "View", "Null"})
"""Engines that hold no rows of their own (a materialized view here writes ``TO`` a table)."""


@dataclass(frozen=True)
class SharedDatabase:
    """The module's database, with what migrating it left: its tables and its migration record."""

    target: ClickHouseTarget
    admin: Client
    tables: list[tuple[str, str, str]]
    migrations: list[tuple[Any, ...]]


def _tables(client: Client) -> list[tuple[str, str, str]]:
    """(name, engine, definition) of every table and view, by name."""
    rows = client.query(
        "SELECT name, engine, create_table_query FROM system.tables "
        "WHERE database = currentDatabase() ORDER BY name"
    ).result_rows
    return [(str(name), str(engine), str(query)) for name, engine, query in rows]


def _migrations(client: Client) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in client.query(
            f"SELECT version, name, checksum FROM {MIGRATION_TABLE} FINAL ORDER BY version"
        ).result_rows
    ]


@contextmanager
def migrated_database(url: str) -> Iterator[SharedDatabase]:
    """A new database on ``url``, migrated; dropped afterwards."""
    database = f"test_shared_{uuid.uuid4().hex[:12]}"
    admin = open_client(url, database, create_database=True)
    try:
        migrate(admin)
        yield SharedDatabase(ClickHouseTarget(url, database), admin, _tables(admin), _migrations(admin))
    finally:
        admin.command(f"DROP DATABASE IF EXISTS {database}")
        admin.close()


def empty(shared: SharedDatabase, mutations_timeout_s: float = 120.0) -> None:
    """Truncate every table but ``schema_migrations`` once the mutations a test queued (retention's and
    GDPR's asynchronous deletes) are done, then check the database is as migrating left it; raises
    ``AssertionError`` (the test's setup fails) where it is not."""
    admin = shared.admin
    deadline = time.monotonic() + mutations_timeout_s
    while pending := admin.query(
        "SELECT table, mutation_id, latest_fail_reason FROM system.mutations "
        "WHERE database = currentDatabase() AND NOT is_done"
    ).result_rows:
        if time.monotonic() > deadline:
            raise AssertionError(f"mutations of an earlier test still running: {pending}")
        time.sleep(0.05)
    tables = _tables(admin)
    if tables != shared.tables:
        changed = sorted(set(tables) ^ set(shared.tables))
        raise AssertionError(f"an earlier test changed the shared database's tables: {changed}")
    unknown = [
        (name, engine)
        for name, engine, _ in tables
        if not engine.endswith("MergeTree") and engine not in STATELESS_ENGINES
    ]
    if unknown:
        raise AssertionError(f"tables this cannot empty (add their engine here if TRUNCATE does): {unknown}")
    for name, engine, _ in tables:
        if engine.endswith("MergeTree") and name != MIGRATION_TABLE:
            admin.command(f"TRUNCATE TABLE `{name}`")
    # rows, not parts: TRUNCATE may put an empty part in place of the ones it removes, cleaned up later
    left = admin.query(
        "SELECT table, sum(rows) FROM system.parts WHERE database = currentDatabase() AND active "
        "AND table != {migrations:String} GROUP BY table HAVING sum(rows) > 0",
        parameters={"migrations": MIGRATION_TABLE},
    ).result_rows
    if left:
        raise AssertionError(f"rows left after emptying the shared database: {left}")
    if _migrations(admin) != shared.migrations:
        raise AssertionError("an earlier test changed schema_migrations of the shared database")
