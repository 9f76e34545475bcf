"""Run queries in a separate process: a process can host one chDB engine directory only, so a test whose
own engine is open reads a worker's directory through this (``python -m tests.support.chdb_query``)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def query_in_subprocess(url: str, database: str, queries: dict[str, str]) -> dict[str, list[list[Any]]]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.chdb_query", url, database],
        input=json.dumps(queries),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    result: dict[str, list[list[Any]]] = json.loads(done.stdout)
    return result


def main() -> int:
    from plumbing.clickhouse import open_client

    url, database = sys.argv[1], sys.argv[2]
    queries: dict[str, str] = json.loads(sys.stdin.read())
    client = open_client(url, database)
    out = {name: [list(row) for row in client.query(sql).result_rows] for name, sql in queries.items()}
    print(json.dumps(out, default=str))
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
