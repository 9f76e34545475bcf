"""The configuration store itself (ADR 0017), on SQLite and a real PostgreSQL: the migrations create exactly
the tables the models declare, applying them again changes nothing, migrate processes started at once
apply them once, ``analytics migrate`` migrates both stores, and unusable URLs are refused clearly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from cli.main import main
from plumbing.config_db import ConfigDatabase, current_revision, parse_database_url, upgrade, upgrade_async
from plumbing.config_errors import ConfigStoreError
from plumbing.settings import forget_loaded_settings
from schemas.config_models import ConfigBase
from tests.conftest import _postgres_command, unavailable

REVISIONS = ["0001", "0002", "0003", "0004", "0005", "0006", "0007"]
HEAD = REVISIONS[-1]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A configuration store with nothing in it yet."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    session_url: str | None = request.getfixturevalue("_postgres_session")
    if session_url is None:
        unavailable("no PostgreSQL (see deploy/local/postgres.sh)")
    assert session_url is not None
    name = f"analytics_empty_{uuid.uuid4().hex[:10]}"
    asyncio.run(_postgres_command(session_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(session_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_postgres_command(session_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _differences(url: str) -> list[object]:
    async def compare() -> list[object]:
        database = ConfigDatabase(url)
        try:
            async with database.engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync, opts={"compare_type": True}), ConfigBase.metadata
                    )
                )
        finally:
            await database.close()

    return asyncio.run(compare())


def test_migrations_create_exactly_the_models_tables_once(empty_store: str) -> None:
    assert upgrade(empty_store) == REVISIONS
    assert upgrade(empty_store) == []
    assert _differences(empty_store) == []

    async def revision() -> str | None:
        database = ConfigDatabase(empty_store)
        try:
            return await current_revision(database)
        finally:
            await database.close()

    assert asyncio.run(revision()) == HEAD


def test_migrate_processes_started_at_once_apply_the_migrations_once(empty_store: str) -> None:
    async def both() -> list[list[str]]:
        return list(await asyncio.gather(upgrade_async(empty_store), upgrade_async(empty_store)))

    if empty_store.startswith("sqlite"):  # one SQLite file is one writer at a time: the second waits
        results = [upgrade(empty_store), upgrade(empty_store)]
    else:
        results = asyncio.run(both())
    assert sorted(results) == [[], REVISIONS]


@pytest.mark.clickhouse
def test_analytics_migrate_migrates_both_stores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    chdb = f"chdb://{tmp_path / 'ch'}"
    assert main(["migrate", "--clickhouse-url", chdb, "--database-url", config]) == 0
    out = capsys.readouterr().out
    assert all(f"applied configuration revision {r}" in out for r in REVISIONS)
    assert f"configuration store is up to date ({len(REVISIONS)} applied now)" in out
    engine = create_sync_engine(config.replace("+aiosqlite", ""))
    try:
        assert {"dashboards", "dashboard_widgets", "alembic_version"} <= set(
            inspect(engine).get_table_names()
        )
    finally:
        engine.dispose()
    monkeypatch.setenv("ANALYTICS_DATABASE_URL", config)
    forget_loaded_settings()  # the settings the first command loaded
    assert main(["migrate", "--clickhouse-url", chdb]) == 0
    assert "configuration store is up to date (0 applied now)" in capsys.readouterr().out


def test_unusable_urls_are_refused_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_database_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert parse_database_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"
    for url, words in [
        ("mysql://u@h/db", "unsupported configuration store 'mysql'"),
        ("postgresql+psycopg2://u@h/db", r"use the postgresql\+asyncpg driver"),
        ("not a url", "not a database URL"),
    ]:
        with pytest.raises(ConfigStoreError, match=words):
            parse_database_url(url)
    assert (
        main(["migrate", "--clickhouse-url", "chdb:///nonexistent/x", "--database-url", "mysql://u@h/d"]) == 1
    )
    assert "unsupported configuration store" in capsys.readouterr().err


def test_of_two_writers_that_read_one_version_the_second_gets_a_stale_write(config_database_url: str) -> None:
    """Without ``If-Match`` too: both read version 1, the first commits version 2, the second's ``UPDATE``
    (``WHERE version = 1``) matches no row — no update is lost silently."""
    from query_api.lms_config.repository import Actor, StaleWrite
    from query_api.lms_config.tables import DASHBOARDS

    async def race() -> tuple[int, str]:
        database = ConfigDatabase(config_database_url)
        tenant = f"race-{uuid.uuid4().hex[:8]}"
        actor = Actor(tenant, "a", "127.0.0.1")
        try:
            async with database.session() as session:
                board = await DASHBOARDS.create(session, actor, {"dashboard_name": "b"})
            async with database.session() as first, database.session() as second:
                mine = await DASHBOARDS.get(first, tenant, board.dashboard_id)
                theirs = await DASHBOARDS.get(second, tenant, board.dashboard_id)
                assert mine.version == theirs.version == 1
                mine.dashboard_name = "first"
                await first.flush()
                await first.commit()
                theirs.dashboard_name = "second"
                with pytest.raises(StaleWrite):
                    await DASHBOARDS._flush(second, 1, "")
                await second.rollback()
            async with database.session() as session:
                now = await DASHBOARDS.get(session, tenant, board.dashboard_id)
                return now.version, now.dashboard_name
        finally:
            await database.close()

    assert asyncio.run(race()) == (2, "first")
