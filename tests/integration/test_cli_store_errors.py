"""The one-shot commands say in one line why they cannot open the store, never with a traceback: an
embedded store held by a running process (``analytics dev``), or a ClickHouse server that refuses; a
query API on a held store answers 503 with the reason."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.support.auth import bearer
from tests.support.processes import wait_answering

pytestmark = pytest.mark.clickhouse

COMMANDS = [
    ["migrate"],
    ["api-keys", "list"],
    ["retention"],
    ["privacy-jobs", "--pending"],
    ["rebuild-rollups", "--pending"],
]
HOLD = (
    "import sys, time; from plumbing.clickhouse import open_client; "
    "c = open_client(sys.argv[1], 'analytics', create_database=True); "
    "print('held', flush=True); time.sleep(120)"
)


@dataclass(frozen=True)
class Held:
    url: str
    directory: Path
    pid: int


@pytest.fixture(scope="module")
def held_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Held]:
    """An embedded store another process holds open, as ``analytics dev`` does while it runs."""
    directory = tmp_path_factory.mktemp("held") / "ch"
    url = f"chdb://{directory}"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield Held(url, directory, holder.pid)
    finally:
        holder.kill()
        holder.wait(timeout=30)


def run(command: list[str], url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANALYTICS_CLICKHOUSE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_held_embedded_store_is_reported_in_one_line(
    command: list[str], held_store: Held, tmp_path: Path
) -> None:
    done = run(command, held_store.url, tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    ours = [line for line in done.stderr.splitlines() if line.startswith(f"{command[0]}: ")]
    assert len(ours) == 1, done.stderr
    expected = f"{command[0]}: cannot open ClickHouse at {held_store.url} (is `analytics dev` running"
    assert ours[0].startswith(expected)
    holder = f"the embedded store {held_store.directory} is held by another process (pid {held_store.pid})"
    assert holder in ours[0]


def test_a_refusing_server_is_reported_without_the_embedded_hint(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = run(["privacy-jobs", "--pending"], url, tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    ours = [line for line in done.stderr.splitlines() if line.startswith("privacy-jobs: ")]
    assert len(ours) == 1, done.stderr  # (the driver also logs its retry as a warning)
    assert ours[0].startswith(f"privacy-jobs: cannot open ClickHouse at {url}: ")
    assert "analytics dev" not in ours[0]


def test_analytics_dev_on_a_held_store_exits_with_one_line(held_store: Held, tmp_path: Path) -> None:
    done = run(["dev", "--port", str(free_port())], held_store.url, tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"dev: the embedded store {held_store.directory} is held by another process (pid {held_store.pid}): "
        "chDB lets one process at a time use a data directory; stop that process, or point every service "
        "at a ClickHouse server (ANALYTICS_CLICKHOUSE_URL=http://...)"
    )


def test_a_query_api_on_a_held_store_answers_503_naming_the_cause(held_store: Held, tmp_path: Path) -> None:
    """``analytics query`` beside a worker (or ``analytics dev``) on one ``chdb://`` directory: reads
    answer 503 in the error envelope with ``Retry-After`` and the reason, never 500 ``internal error``;
    ``/readyz`` gives the same reason."""
    port = free_port()
    env = {**os.environ, "ANALYTICS_CLICKHOUSE_URL": held_store.url, "ANALYTICS_QUERY_CACHE_TTL_S": "0"}
    service = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "query", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_answering(port, service)
        response = httpx.get(f"http://127.0.0.1:{port}/analytics/dashboard/u1", headers=bearer())
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz")
    finally:
        service.terminate()
        _, errors = service.communicate(timeout=60)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert (body["success"], body["error"]["code"]) == (False, "SERVICE_UNAVAILABLE")
    assert "held by another process" in body["error"]["message"]
    assert "one process per data directory" in body["error"]["message"]
    assert str(held_store.directory) not in body["error"]["message"]  # no server paths to clients
    assert (ready.status_code, ready.json()) == (
        503,
        {"status": "not ready", "reason": body["error"]["message"]},
    )
    # the operator's log names the directory and the holder
    assert f"{held_store.directory} is held by another process (pid {held_store.pid})" in errors.decode()
