"""``analytics dev`` as operators run it, in a process of its own on a chDB directory of the test's, and
a fault of that directory's disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import free_port
from tests.support.chdb_query import query_in_subprocess
from tests.support.processes import wait_answering


class Dev:
    """The settings of one ``analytics dev`` (``env`` may be changed before :meth:`start`)."""

    def __init__(self, folder: Path) -> None:
        self.url = f"chdb://{folder / 'ch'}"
        self.port = free_port()
        self.env = {**os.environ, "ANALYTICS_CLICKHOUSE_URL": self.url, "ANALYTICS_LOG_LEVEL": "WARNING"}
        self.cwd = folder

    def start(self, *options: str) -> subprocess.Popen[bytes]:
        """The process, once ``/readyz`` answers 200 (its output on a pipe: read it or let it drain)."""
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "dev", "--port", str(self.port), *options],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        wait_answering(self.port, process, "/readyz")
        return process

    def query(self, queries: dict[str, str]) -> dict[str, list[list[object]]]:
        """Read the store from another process (chDB lets one process at a time open a directory)."""
        return query_in_subprocess(self.url, "analytics", queries)


def block_raw_table(store: Path) -> tuple[Path, Path]:
    """Replace the data directory of ``analytics_events`` with a file: every insert into it fails (and is
    retried as the store being unavailable). Returns (blocked path, where the directory went)."""
    folder = (store / "data" / "analytics" / "analytics_events").resolve()
    aside = folder.with_name(folder.name + ".aside")
    folder.rename(aside)
    folder.write_text("not a directory")
    return folder, aside
