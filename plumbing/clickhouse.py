"""The one place that knows how to open ClickHouse.

``chdb://<dir>`` opens the embedded chDB engine on a data directory (relative paths are relative to the
working directory, so the default ``chdb://./var/clickhouse`` works from a checkout); ``http(s)://...``
opens a ClickHouse server. Everything else in the code base takes a clickhouse-connect ``Client`` and
never cares which one it got: the SQL is the same.
"""

from __future__ import annotations

import fcntl
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import OperationalError

from plumbing.deduplication_log import drop_records_of_missing_parts

log = logging.getLogger(__name__)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class StorageConfigError(ValueError):
    """The ClickHouse URL or database name cannot be used."""


@dataclass(frozen=True)
class StorageTarget:
    """A parsed ClickHouse URL: either an embedded chDB directory or a server DSN."""

    kind: str  # "chdb" or "http"
    location: str  # chDB directory, or the server DSN
    options: dict[str, str]

    @property
    def is_embedded(self) -> bool:
        return self.kind == "chdb"


def parse_url(url: str) -> StorageTarget:
    """Parse ``chdb://<dir>[?opts]`` or ``http(s)://...`` into a :class:`StorageTarget`."""
    if url.startswith("chdb://"):
        rest = url[len("chdb://") :]
        path, _, query = rest.partition("?")
        if not path:
            raise StorageConfigError("chdb URL needs a directory, e.g. chdb://./var/clickhouse")
        options = {key: values[-1] for key, values in parse_qs(query).items()}
        return StorageTarget("chdb", str(Path(path).expanduser().resolve()), options)
    scheme = urlsplit(url).scheme
    if scheme in ("http", "https"):
        return StorageTarget("http", url, {})
    raise StorageConfigError(f"unsupported ClickHouse URL {url!r}: use chdb://<dir> or http(s)://host:port")


class StoreHeldError(OperationalError):
    """The embedded store's directory is held by another process.

    chDB, like a ClickHouse server, locks its data directory (the ``status`` file), so one process at a
    time may use a ``chdb://`` store: ``analytics dev``, a worker and a query API cannot share one. It is
    an :class:`OperationalError` because it is a state of the deployment, not of the data: it passes when
    the other process stops, so callers that retry or answer 503 on unavailability do so here too.
    """

    def __init__(self, directory: str, holder_pid: int | None) -> None:
        self.directory = directory
        self.holder_pid = holder_pid
        holder = f"another process (pid {holder_pid})" if holder_pid else "another process"
        super().__init__(
            f"the embedded store {directory} is held by {holder}: chDB lets one process at a time use a "
            "data directory; stop that process, or point every service at a ClickHouse server "
            "(ANALYTICS_CLICKHOUSE_URL=http://...)"
        )


def embedded_holder(directory: str | Path) -> int | None:
    """Whether another process holds the chDB store in ``directory``: the pid it wrote into the ``status``
    file (0 when unreadable), or None when the directory is free.

    Probes the lock ClickHouse takes on ``status`` (``flock``). Call it only after opening the store
    failed: a probe from the process that itself holds the store would see its own lock.
    """
    status = Path(directory) / "status"
    try:
        handle = status.open("rb")
    except OSError:
        return None
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            match = re.search(rb"PID:\s*(\d+)", handle.read(256))
            return int(match.group(1)) if match else 0
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return None


class StoreUnavailableError(Exception):
    """A command-line tool cannot open the store; the message says which and the likely cause."""


EMBEDDED_HELD_HINT = (
    " (is `analytics dev` running on this store? It holds the embedded store while it runs, and runs "
    "retention, privacy jobs and rollup rebuilds itself)"
)


def open_for_command(url: str, database: str, *, create_database: bool = False) -> Client:
    """A client for a one-shot command (``api-keys``, ``retention``, ``privacy-jobs``, ``rebuild-rollups``).
    Anything that keeps it from opening raises :class:`StoreUnavailableError` with a one-line message the
    command prints instead of a traceback; chDB lets one process hold a store, hence the hint."""
    try:
        embedded = parse_url(url).is_embedded
    except StorageConfigError as exc:
        raise StoreUnavailableError(str(exc)) from exc
    try:
        return open_client(url, database, create_database=create_database)
    except StorageConfigError as exc:
        raise StoreUnavailableError(str(exc)) from exc
    except Exception as exc:  # a refused connection, a store held by another process, a bad database
        hint = EMBEDDED_HELD_HINT if embedded else ""
        raise StoreUnavailableError(f"cannot open ClickHouse at {url}{hint}: {exc}") from exc


def validate_database_name(name: str) -> str:
    """Database names are interpolated into DDL, so only plain identifiers are accepted."""
    if not _IDENTIFIER.match(name):
        raise StorageConfigError(f"invalid ClickHouse database name {name!r}")
    return name


def open_client(
    url: str, database: str | None = None, *, create_database: bool = False, **settings: Any
) -> Client:
    """Open a clickhouse-connect client on ``url``, optionally creating ``database`` first.

    The chDB client is synchronous and a process may host one engine directory only; callers in async
    code run client calls in a worker thread. A ``chdb://`` directory another process holds raises
    :class:`StoreHeldError`.
    """
    target = parse_url(url)
    if database is not None:
        validate_database_name(database)
    if create_database and database is not None:
        bootstrap = _connect(target, None, settings)
        try:
            bootstrap.command(f"CREATE DATABASE IF NOT EXISTS {database}")
        finally:
            bootstrap.close()
    return _connect(target, database, settings)


_EMBEDDED_OPENING = threading.Lock()
"""Held while this process repairs an embedded store's logs and opens its engine: the repair takes the
engine's lock for a moment, and an engine starting in another thread then would find it taken (a query
pool opens its clients in parallel)."""


def _connect(target: StorageTarget, database: str | None, settings: dict[str, Any]) -> Client:
    if target.is_embedded:
        Path(target.location).mkdir(parents=True, exist_ok=True)
        try:
            with _EMBEDDED_OPENING:
                drop_records_of_missing_parts(target.location)  # a no-op once this process's engine runs
                return clickhouse_connect.get_client(
                    interface="chdb", path=target.location, database=database, settings=settings or None
                )
        except Exception as exc:  # chDB says only "Error initializing EmbeddedServer": find out why
            holder = embedded_holder(target.location)
            if holder is None:
                raise
            raise StoreHeldError(target.location, holder or None) from exc
    return clickhouse_connect.get_client(dsn=target.location, database=database, settings=settings or None)


T = TypeVar("T")


class ClientHolder:
    """One lazily opened client, used by one call at a time, closed and forgotten after a failed call so
    the next call opens a fresh one: the one reconnect path. Snapshot readers (keys, settings) hold one,
    :class:`plumbing.storage.Storage` holds one and retries around it, and the query API's store pools
    several."""

    def __init__(self, open_client: Callable[[], Client]) -> None:
        self._open_client = open_client
        self._client: Client | None = None
        self._lock = threading.Lock()  # a call may still run in its thread when close() is called

    def call(self, read: Callable[[Client], T]) -> T:
        """Blocking: ``read(client)``, opening the client first if there is none; run it in a thread
        from async code. Whatever ``read`` (or opening) raises is raised, after the client was dropped."""
        with self._lock:
            if self._client is None:
                self._client = self._open_client()
            try:
                return read(self._client)
            except Exception:
                self._drop()
                raise

    def close(self) -> None:
        """Close the client (waiting for a call in progress); a later call opens a new one."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # a broken client may fail to close; it is gone either way
                log.debug("closing a failed ClickHouse client raised", exc_info=True)
