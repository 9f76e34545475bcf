"""Fixtures for real Kafka and real ClickHouse.

Kafka, in order of preference: ``ANALYTICS_KAFKA_BOOTSTRAP`` if set; a testcontainers broker when a Docker
daemon answers; the local KRaft broker of ``deploy/local/kafka.sh`` (started here if needed and then stopped
again). ClickHouse: a testcontainers server when Docker answers, else chDB in a fresh temporary directory.
Each test gets its own database (``clickhouse``), or the migrated one of its module, emptied before it
(``shared_clickhouse``).

When a backend cannot be had the test is skipped with the reason, except under ``CI=true``, where that is a
failure. A test that uses either fixture without the matching marker fails loudly.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from clickhouse_connect.driver.client import Client

from plumbing.clickhouse import open_client
from plumbing.settings import forget_loaded_settings
from tests.support.auth import TEST_SECRET

if TYPE_CHECKING:
    from tests.support.shared_clickhouse import SharedDatabase

# Every service in the test session (and every subprocess it starts) verifies tokens with the test secret.
os.environ["ANALYTICS_AUTH_JWT_SECRET"] = TEST_SECRET
# The configuration store of apps a test builds without naming one: a file of this session's, never ./var's.
# Generated reports and exports (and the key signing their links): this session's, never ./var's. Both go
# when the test process exits (its subprocesses have ended by then).
_SESSION_DIRS = [tempfile.mkdtemp(prefix="analytics-config-"), tempfile.mkdtemp(prefix="analytics-files-")]
for _folder in _SESSION_DIRS:
    atexit.register(shutil.rmtree, _folder, ignore_errors=True)
os.environ["ANALYTICS_DATABASE_URL"] = f"sqlite+aiosqlite:///{_SESSION_DIRS[0]}/config.db"
os.environ["ANALYTICS_FILES_DIR"] = _SESSION_DIRS[1]
# Rate limits are tested with their own limiters (tests/unit/test_rate_limit*.py); elsewhere they are off.
os.environ["ANALYTICS_RATE_LIMITS_ENABLED"] = "false"
for _other in ("ANALYTICS_AUTH_JWT_PUBLIC_KEY", "ANALYTICS_AUTH_JWKS_URL"):
    os.environ.pop(_other, None)

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = ROOT / "deploy" / "local" / "kafka.sh"
POSTGRES_SCRIPT = ROOT / "deploy" / "local" / "postgres.sh"
IN_CI = os.environ.get("CI", "").lower() == "true"


SLOWEST_FILES = (
    "integration/test_embedded_dev.py",
    "integration/test_worker_kafka.py",
    "integration/test_shutdown.py",
    "integration/test_openapi_fuzz.py",
    "integration/test_transport_contract.py",
    "integration/test_migrations.py",
    "integration/test_rebuild.py",
    "integration/test_lms_api.py",
    "integration/test_readme_sequence.py",
    "integration/test_client_retries.py",
    "integration/test_authorization.py",
    "integration/test_lms_oracle.py",
    "integration/test_operations_metrics.py",
    "integration/test_lms_kafka.py",
)
"""Test files to start first, slowest first (per-file times of a fresh-clone run: 126 s down to 55 s). The
suite runs in two processes, a file's tests in one (``--dist loadfile``), each process taking the next file
when it is done: starting the longest files first keeps one process from running a long file alone at the
end while the other idles. The other integration files follow, then the unit tests (many short files, which
fill the gaps). ``deploy/local/test.sh`` passes ``--no-loadscope-reorder`` so that xdist keeps this order
instead of its own (most tests first, which put the few long integration tests last)."""


def _start_rank(item: pytest.Item) -> tuple[int, int]:
    if not item.path.is_relative_to(Path(__file__).parent):
        return (2, 0)
    path = item.path.relative_to(Path(__file__).parent).as_posix()
    if path in SLOWEST_FILES:
        return (0, SLOWEST_FILES.index(path))
    return (1, 0) if path.startswith("integration/") else (2, 0)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_start_rank)  # stable: a file's tests keep their order


@pytest.fixture(autouse=True)
def _settings_of_this_test() -> Iterator[None]:
    """Every test reads the settings of the environment it sets up (``monkeypatch.setenv``), never those a
    test before it loaded: what :func:`plumbing.settings.load_settings` built is forgotten around each."""
    forget_loaded_settings()
    yield
    forget_loaded_settings()


def unavailable(reason: str) -> None:
    """Skip, or fail under CI=true where a missing backend must never pass silently."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def require_marker(request: pytest.FixtureRequest, marker: str) -> None:
    if request.node.get_closest_marker(marker) is None:
        pytest.fail(
            f"{request.node.nodeid} uses a real {marker} backend but is not marked @pytest.mark.{marker}"
        )


def docker_available() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=2)
        client.ping()
        return True
    except Exception:
        return False


def tcp_reachable(bootstrap: str, timeout: float = 2.0) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def _kafka_session() -> Iterator[str | None]:
    configured = os.environ.get("ANALYTICS_KAFKA_BOOTSTRAP")
    if configured:
        yield configured if tcp_reachable(configured) else None
        return
    if docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    status = subprocess.run([str(KAFKA_SCRIPT), "status"], capture_output=True, text=True)
    started_here = status.returncode != 0
    up = subprocess.run([str(KAFKA_SCRIPT), "up"], capture_output=True, text=True)
    if up.returncode != 0:
        print(up.stderr)
        yield None
        return
    try:
        yield up.stdout.strip().splitlines()[-1]
    finally:
        if started_here:
            subprocess.run([str(KAFKA_SCRIPT), "down"], capture_output=True, text=True)


@pytest.fixture
def kafka_bootstrap(request: pytest.FixtureRequest, _kafka_session: str | None) -> str:
    """Bootstrap servers of a real Kafka broker."""
    require_marker(request, "kafka")
    if _kafka_session is None:
        unavailable(
            "no Kafka broker: ANALYTICS_KAFKA_BOOTSTRAP unreachable, no Docker, and the local broker "
            "did not start (see deploy/local/kafka.sh)"
        )
    assert _kafka_session is not None
    return _kafka_session


async def _postgres_command(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def _postgres_session() -> Iterator[str | None]:
    """A database of this session's own on a real PostgreSQL (``ANALYTICS_TEST_DATABASE_URL``, else the
    server of ``deploy/local/postgres.sh``, started here if needed and then stopped again), migrated;
    dropped at the end. Tests share it and keep apart by tenant."""
    import asyncio

    from sqlalchemy.engine import make_url

    from plumbing.config_db import upgrade

    base = os.environ.get("ANALYTICS_TEST_DATABASE_URL")
    started_here = False
    if not base:
        status = subprocess.run([str(POSTGRES_SCRIPT), "status"], capture_output=True, text=True)
        started_here = status.returncode != 0
        up = subprocess.run([str(POSTGRES_SCRIPT), "up"], capture_output=True, text=True)
        if up.returncode != 0 or not up.stdout.strip():
            print(up.stderr)
            yield None
            return
        base = up.stdout.strip().splitlines()[-1]
    name = f"analytics_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_postgres_command(base, f'CREATE DATABASE "{name}"'))
    except OSError as error:
        print(f"PostgreSQL at {base} unreachable: {error}")
        yield None
        return
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_postgres_command(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if started_here:
            subprocess.run([str(POSTGRES_SCRIPT), "down"], capture_output=True, text=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def config_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated configuration store (ADR 0017): a fresh SQLite file, or the session's PostgreSQL
    database (a test parametrized over both runs its checks on each)."""
    if request.param == "sqlite":
        from plumbing.config_db import upgrade

        url = f"sqlite+aiosqlite:///{tmp_path / 'config.db'}"
        upgrade(url)
        return url
    require_marker(request, "postgres")
    session_url: str | None = request.getfixturevalue("_postgres_session")
    if session_url is None:
        unavailable(
            "no PostgreSQL: ANALYTICS_TEST_DATABASE_URL unset or unreachable, and deploy/local/postgres.sh "
            "did not start one"
        )
    assert session_url is not None
    return session_url


@dataclass(frozen=True)
class ClickHouseTarget:
    url: str
    database: str

    def client(self) -> Client:
        return open_client(self.url, self.database)


@pytest.fixture(scope="session")
def _clickhouse_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    if docker_available():
        from testcontainers.clickhouse import ClickHouseContainer

        with ClickHouseContainer() as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(8123)
            yield f"http://{container.username}:{container.password}@{host}:{port}"
        return
    try:
        import chdb  # noqa: F401
    except ImportError as error:
        yield None
        print(f"chdb unavailable: {error}")
        return
    yield f"chdb://{tmp_path_factory.mktemp('chdb')}"


@pytest.fixture
def clickhouse(request: pytest.FixtureRequest, _clickhouse_url: str | None) -> Iterator[ClickHouseTarget]:
    """A fresh, empty database of its own on a real ClickHouse (dropped afterwards)."""
    require_marker(request, "clickhouse")
    if _clickhouse_url is None:
        unavailable("no ClickHouse: neither Docker nor the chdb package is available")
    assert _clickhouse_url is not None
    database = f"test_{uuid.uuid4().hex[:12]}"
    admin = open_client(_clickhouse_url, database, create_database=True)
    try:
        yield ClickHouseTarget(_clickhouse_url, database)
    finally:
        admin.command(f"DROP DATABASE IF EXISTS {database}")
        admin.close()


@pytest.fixture
def clickhouse_client(clickhouse: ClickHouseTarget) -> Iterator[Client]:
    client = clickhouse.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def _shared_clickhouse_database(_clickhouse_url: str | None) -> Iterator[SharedDatabase | None]:
    """The database behind :func:`shared_clickhouse`: created and migrated at the first test of a module
    that takes it, dropped after the module's last test."""
    if _clickhouse_url is None:
        yield None
        return
    from tests.support.shared_clickhouse import migrated_database

    with migrated_database(_clickhouse_url) as shared:
        yield shared


@pytest.fixture
def shared_clickhouse(
    request: pytest.FixtureRequest, _shared_clickhouse_database: SharedDatabase | None
) -> ClickHouseTarget:
    """A migrated database holding no row, shared by the tests of a module: migrated once (not once per
    test, as a test migrating :func:`clickhouse` does), emptied and checked before each test
    (``tests/support/shared_clickhouse.py``; what it cannot check, insert deduplication, is the module's
    to care for)."""
    require_marker(request, "clickhouse")
    if _shared_clickhouse_database is None:
        unavailable("no ClickHouse: neither Docker nor the chdb package is available")
    assert _shared_clickhouse_database is not None
    from tests.support.shared_clickhouse import empty

    empty(_shared_clickhouse_database)
    return _shared_clickhouse_database.target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class OwnBroker:
    """A local broker of a test's own (own ports and data folder), to stop and start at will."""

    port: int
    folder: Path
    env: dict[str, str]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def script(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KAFKA_SCRIPT), command], env=self.env, capture_output=True, text=True, timeout=180
        )


def own_broker(tmp_path: Path) -> OwnBroker:
    port, controller = free_port(), free_port()
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller),
        "ANALYTICS_KAFKA_VAR": str(tmp_path / "kafka"),
        "KAFKA_HEAP": "384m",
    }
    return OwnBroker(port, tmp_path / "kafka", env)


@pytest.fixture(scope="session")
def _lms_platform_database(
    _clickhouse_url: str | None,
) -> Iterator[tuple[ClickHouseTarget, list[Any]] | None]:
    """The generated learning platform (seed 7) stored once per session (``tests/support/
    lms_platform_store.py``); taken through :func:`lms_platform`, which checks the marker."""
    if _clickhouse_url is None:
        yield None
        return
    from loadgen.lms_platform import generate_platform
    from tests.support.lms_platform_store import fill

    platforms = generate_platform(seed=7)
    target = ClickHouseTarget(_clickhouse_url, f"test_lms_{uuid.uuid4().hex[:10]}")
    fill(target.url, target.database, platforms)
    try:
        yield target, platforms
    finally:
        admin = open_client(_clickhouse_url)
        try:
            admin.command(f"DROP DATABASE IF EXISTS {target.database}")
        finally:
            admin.close()


@pytest.fixture(scope="module")
def lms_platform(
    request: pytest.FixtureRequest, _lms_platform_database: tuple[ClickHouseTarget, list[Any]] | None
) -> tuple[ClickHouseTarget, list[Any]]:
    """The stored learning platform and its generated tenants (shared by every module of the session)."""
    require_marker(request, "clickhouse")
    if _lms_platform_database is None:
        unavailable("no ClickHouse: neither Docker nor the chdb package is available")
    assert _lms_platform_database is not None
    return _lms_platform_database
