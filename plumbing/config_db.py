"""The one place that opens the configuration store (ADR 0017): the relational database beside ClickHouse
that keeps what people edit (custom dashboards and their widgets, later snapshots, custom metrics, reports),
as the storage module is for ClickHouse.

``ANALYTICS_DATABASE_URL`` is a SQLAlchemy async URL: ``sqlite+aiosqlite:///./var/config.db`` (the embedded
default, a file beside the embedded ClickHouse store, created on first use) or
``postgresql+asyncpg://user:password@host:5432/analytics`` for a deployment. Everything else takes a
:class:`ConfigDatabase` and never cares which one it got.

Migrations are Alembic's (``schemas/config_migrations/``), applied by :func:`upgrade` (``analytics migrate``,
``analytics dev`` before it serves, and the embedded default before its first session): on PostgreSQL under
a transaction-scoped advisory lock, so migrate processes started at once apply them once; SQLite serialises
writers on its file lock.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from plumbing.config_errors import ConfigStoreError, ConfigStoreUnavailable

MIGRATIONS_PACKAGE = "schemas.config_migrations"
_ADVISORY_LOCK_KEY = 0x616E616C  # "anal": any constant shared by every migrate process
_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def parse_database_url(url: str) -> URL:
    """``url`` as a SQLAlchemy URL with an async driver (a plain ``sqlite://`` or ``postgresql://`` URL gets
    the driver this project ships); other databases are refused."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigStoreError(f"ANALYTICS_DATABASE_URL is not a database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        raise ConfigStoreError(
            f"unsupported configuration store {backend!r}: use sqlite+aiosqlite:///path or "
            "postgresql+asyncpg://user:password@host/db"
        )
    if parsed.drivername == backend:
        parsed = parsed.set(drivername=_DRIVERS[backend])
    if parsed.drivername != _DRIVERS[backend]:
        raise ConfigStoreError(f"use the {_DRIVERS[backend]} driver, not {parsed.drivername}")
    return parsed


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database).expanduser()


def _enable_sqlite_rules(engine: AsyncEngine) -> None:
    """Foreign keys on (SQLite leaves them off), a journal that lets readers run beside a writer, and a
    wait instead of an immediate 'database is locked' while another connection writes."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """An async engine on ``url`` (the SQLite file's folder is created)."""
    parsed = parse_database_url(url)
    path = _sqlite_file(parsed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(parsed)
        _enable_sqlite_rules(engine)
        return engine
    return create_async_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5)


_MIGRATING: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def _migrating() -> asyncio.Lock:
    """One migration at a time in this process (per event loop): Alembic's operations run through
    process-wide proxies, so two stores of one process migrating at once would trip over each other."""
    loop = asyncio.get_running_loop()
    lock = _MIGRATING.get(loop)
    if lock is None:
        lock = _MIGRATING[loop] = asyncio.Lock()
    return lock


class ConfigDatabase:
    """The configuration store of one process: an engine and the sessions made from it.

    The embedded default (SQLite) migrates itself before its first session, so ``make run``, a lone
    ``analytics query`` and tests need no migrate step; a PostgreSQL store is migrated by
    ``analytics migrate`` (a deployment's job) and used as it is."""

    def __init__(self, url: str) -> None:
        self.url = parse_database_url(url)
        self.engine = create_engine(url)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._migrated = self.backend != "sqlite"

    async def _migrate_embedded(self) -> None:
        async with _migrating():
            if not self._migrated:
                await upgrade_async(self.url.render_as_string(hide_password=False))
                self._migrated = True

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.url.get_backend_name()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed when the block ends, rolled back if it raises."""
        if not self._migrated:
            await self._migrate_embedded()
        async with self._sessions() as session, session.begin():
            yield session

    async def close(self) -> None:
        await self.engine.dispose()


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files(MIGRATIONS_PACKAGE)))
    config.attributes["connection"] = connection
    return config


def _upgrade_on(connection: Connection) -> list[str]:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
    before = MigrationContext.configure(connection).get_current_revision()
    config = _alembic_config(connection)
    command.upgrade(config, "head")
    script = ScriptDirectory.from_config(config)
    applied = [rev.revision for rev in script.iterate_revisions("head", before)]
    return list(reversed(applied))


async def upgrade_async(url: str) -> list[str]:
    """Apply the pending migrations of the configuration store at ``url``; answers the revisions applied
    now, oldest first (none when it was up to date)."""
    engine = create_engine(url)
    try:
        try:
            connection = await engine.connect()
        except (OSError, DBAPIError) as exc:
            shown = engine.url.render_as_string(hide_password=True)
            raise ConfigStoreUnavailable(f"the configuration store {shown} cannot be reached: {exc}") from exc
        try:
            async with connection.begin():
                return await connection.run_sync(_upgrade_on)
        finally:
            await connection.close()
    finally:
        await engine.dispose()


def upgrade(url: str) -> list[str]:
    """:func:`upgrade_async` from synchronous code (the CLI, ``analytics dev`` before it serves); in a
    thread of its own when the caller's thread runs an event loop already."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(upgrade_async(url))
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, upgrade_async(url)).result()


async def current_revision(database: ConfigDatabase) -> str | None:
    async with database.engine.connect() as connection:
        return await connection.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
