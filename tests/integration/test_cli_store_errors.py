"""The one-shot commands say in one line why they cannot open the store, never with a traceback: an
embedded store held by a running process (``analytics dev``), or a ClickHouse server that refuses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.clickhouse

COMMANDS = [
    ["api-keys", "list"],
    ["retention"],
    ["privacy-jobs", "--pending"],
    ["rebuild-rollups", "--pending"],
]
HOLD = (
    "import sys, time; from schemas.storage import open_client; "
    "c = open_client(sys.argv[1], 'analytics', create_database=True); "
    "print('held', flush=True); time.sleep(120)"
)


@pytest.fixture(scope="module")
def held_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An embedded store another process holds open, as ``analytics dev`` does while it runs."""
    url = f"chdb://{tmp_path_factory.mktemp('held') / 'ch'}"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield url
    finally:
        holder.kill()
        holder.wait(timeout=30)


def run(command: list[str], url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANALYTICS_CLICKHOUSE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "schemas.cli", *command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_held_embedded_store_is_reported_in_one_line(
    command: list[str], held_store: str, tmp_path: Path
) -> None:
    done = run(command, held_store, tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    ours = [line for line in done.stderr.splitlines() if line.startswith(f"{command[0]}: ")]
    assert len(ours) == 1, done.stderr
    expected = f"{command[0]}: cannot open ClickHouse at {held_store} (is `analytics dev` running"
    assert ours[0].startswith(expected)


def test_a_refusing_server_is_reported_without_the_embedded_hint(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = run(["privacy-jobs", "--pending"], url, tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    ours = [line for line in done.stderr.splitlines() if line.startswith("privacy-jobs: ")]
    assert len(ours) == 1, done.stderr  # (the driver also logs its retry as a warning)
    assert ours[0].startswith(f"privacy-jobs: cannot open ClickHouse at {url}: ")
    assert "analytics dev" not in ours[0]
