"""The embedded store after the crash ADR 0004 names: a block's deduplication record is on disk, its part is
not (the engine stopped between writing the one and renaming the other). The crash is reproduced by removing
the part's directory, which is the state it leaves (an unrenamed part is deleted when the engine starts).

Each step runs in a process of its own: the embedded engine is one per process, and a restart is the point.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.clickhouse

RUN_STATEMENTS = """
import json, sys
url, raw = sys.argv[1], sys.argv[2] == "raw"
statements = json.loads(sys.stdin.read())
if raw:  # the engine as it is, without the repair that opening through the project does
    from chdb import session
    s = session.Session(url.removeprefix("chdb://"))
    run = lambda sql: [line.split("\\t") for line in s.query(sql, "TSV").data().splitlines()]
else:
    from plumbing.clickhouse import open_client
    client = open_client(url)
    run = lambda sql: [[str(v) for v in row] for row in client.query(sql).result_rows]
print(json.dumps([run(sql) for sql in statements]))
"""

TABLE = (
    "CREATE TABLE IF NOT EXISTS d.t (i UInt32, m UInt8) ENGINE = MergeTree PARTITION BY m ORDER BY i "
    "SETTINGS non_replicated_deduplication_window = 1000"
)


def insert(i: int, partitions: tuple[int, ...]) -> str:
    rows = ", ".join(f"({i}, {m})" for m in partitions)
    return f"INSERT INTO d.t SETTINGS insert_deduplication_token = 'batch-{i}' VALUES {rows}"


def run(directory: Path, statements: list[str], *, raw: bool = False) -> list[list[list[str]]]:
    done = subprocess.run(
        [sys.executable, "-c", RUN_STATEMENTS, f"chdb://{directory}", "raw" if raw else "project"],
        input=json.dumps(statements),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: list[list[list[str]]] = json.loads(done.stdout)
    return result


COUNTS = "SELECT i, m, count() FROM d.t GROUP BY i, m ORDER BY i, m"


def table_dir(directory: Path) -> Path:
    (logs,) = directory.glob("store/*/*/deduplication_logs")
    return logs.parent


def lose_part(directory: Path, part_name: str) -> None:
    shutil.rmtree(table_dir(directory) / part_name)


def recorded_part(directory: Path, token_partition: str) -> str:
    """The part a block of partition ``token_partition`` was recorded in (the first such record)."""
    for log in sorted((table_dir(directory) / "deduplication_logs").iterdir()):
        for line in log.read_text().splitlines():
            _, part, _ = line.split("\t")
            if part.startswith(f"{token_partition}_"):
                return part
    raise AssertionError(f"no record for partition {token_partition}")


def crashed_store(directory: Path) -> Path:
    """A store where batch 1 (two blocks: partitions 0 and 1) and batch 2 (partition 0) were written, and
    the crash took batch 1's partition-1 part after its record."""
    run(directory, ["CREATE DATABASE IF NOT EXISTS d", TABLE, insert(1, (0, 1)), insert(2, (0,))])
    lose_part(directory, recorded_part(directory, "1"))
    return directory


REPLAY = [insert(1, (0, 1)), insert(2, (0,)), COUNTS]


def test_the_engine_alone_takes_the_lost_block_for_a_duplicate(tmp_path: Path) -> None:
    """The premise, on the engine as it is: the replayed block is dropped and its row is lost."""
    assert run(crashed_store(tmp_path / "ch"), REPLAY, raw=True)[-1] == [["1", "0", "1"], ["2", "0", "1"]]


def test_a_block_recorded_but_not_stored_is_stored_when_its_batch_is_written_again(tmp_path: Path) -> None:
    store = crashed_store(tmp_path / "ch")
    # through the project the record of the lost block is dropped first: the replay stores that block,
    # and the blocks that were stored (batch 1's partition 0, batch 2) stay deduplicated
    assert run(store, REPLAY)[-1] == [["1", "0", "1"], ["1", "1", "1"], ["2", "0", "1"]]
    # and the next restart finds nothing more to do: a third replay changes nothing
    assert run(store, REPLAY)[-1] == [["1", "0", "1"], ["1", "1", "1"], ["2", "0", "1"]]


def test_blocks_merged_into_a_larger_part_stay_deduplicated(tmp_path: Path) -> None:
    store = tmp_path / "ch"
    run(
        store,
        [
            "CREATE DATABASE IF NOT EXISTS d",
            TABLE,
            *(insert(i, (0,)) for i in (1, 2, 3)),
            "OPTIMIZE TABLE d.t FINAL",
        ],
    )
    # the merged parts' own directories go (as the engine's cleanup removes them after a while)
    for part in [p for p in table_dir(store).iterdir() if p.name.startswith("0_") and p.name.endswith("_0")]:
        shutil.rmtree(part)
    assert [p.name for p in table_dir(store).iterdir() if p.name.startswith("0_")] == ["0_1_3_1"]
    counts = run(store, [*(insert(i, (0,)) for i in (1, 2, 3)), COUNTS])[-1]
    assert counts == [["1", "0", "1"], ["2", "0", "1"], ["3", "0", "1"]]
