"""Repair a store's insert-deduplication logs after a crash, before the engine opens them.

Every batch the workers write carries an ``insert_deduplication_token`` so that a batch written again
after a crash is dropped by ClickHouse instead of counted twice (ADR 0004). On a non-replicated MergeTree
the engine remembers a block's token in the table's ``deduplication_logs`` (one text line per block,
written at once) *before* it renames the block's finished temporary part into the table. A crash of the
engine between the two leaves a record whose part never became visible: the re-formed batch then
carries the same token, the engine takes it for a duplicate, and the block's rows are gone for good.
With chDB the engine runs inside the worker, so a worker killed at that instant is such a crash.

:func:`drop_records_of_missing_parts` closes the gap for ``chdb://`` stores (run whenever a process opens
one) and, through ``analytics repair-deduplication-logs``, for a stopped server's data directory. While no
engine holds the directory, it replays each table's logs, finds the records whose part is neither on disk
nor inside a part on disk (merges and mutations keep a block's range), and writes the engine's own
``DROP`` record for each (what ClickHouse writes when it drops a part) into a new log after the others. The
block's next insert is then stored. A record whose part exists is never touched, so nothing can be counted
twice.

The format is ClickHouse's ``MergeTreeDeduplicationLog``: ``deduplication_log_<n>.txt`` files, replayed
in order, each line ``<op>\\t<part name>\\t<block id>`` with op 1 = add and 2 = drop.
"""

from __future__ import annotations

import bisect
import fcntl
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_LOG_FILE = re.compile(r"^deduplication_log_(\d+)\.txt$")
# <partition id>_<min block>_<max block>_<level>[_<mutation>]; partition ids hold no underscore
_PART_NAME = re.compile(r"^([^_]+)_(\d+)_(\d+)_(\d+)(?:_(\d+))?$")
_ADD, _DROP = "1", "2"


@dataclass(frozen=True)
class BlockRange:
    """The blocks a part holds: a freshly inserted part holds one, a merged part the range of its sources."""

    partition: str
    first: int
    last: int


@dataclass(frozen=True)
class DroppedRecord:
    """A deduplication record whose part was lost, and for which a drop record was appended."""

    table_dir: Path
    part_name: str
    block_id: str


def block_range(part_name: str) -> BlockRange | None:
    """The block range a part name states, or None for a name that is not a part's (``tmp_insert_...``)."""
    match = _PART_NAME.match(part_name)
    if match is None:
        return None
    return BlockRange(match.group(1), int(match.group(2)), int(match.group(3)))


def drop_records_of_missing_parts(directory: str | Path) -> list[DroppedRecord] | None:
    """Write a drop record for every deduplication record of the store in ``directory`` whose part is
    missing; return them. Does nothing and returns None while an engine (of any process, this one included)
    holds the directory, because the engine then owns the logs and has already loaded them: call it before
    the process opens the store. Idempotent."""
    root = Path(directory)
    if not root.is_dir():
        return []
    status = root / "status"  # the engine's lock file: it holds a lock on it while it runs
    created = not status.exists()
    with status.open("ab") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        try:
            dropped = [record for table_dir in _table_dirs(root) for record in _repair_table(table_dir)]
        finally:
            if created:  # the engine removes it on a clean stop; leave the directory as it was
                status.unlink(missing_ok=True)
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    for record in dropped:
        log.warning(
            "store repair: block %s of %s was recorded but its part %s is missing (the engine stopped "
            "between the two); its record is dropped so the batch's replay stores it",
            record.block_id,
            record.table_dir,
            record.part_name,
        )
    return dropped


def _table_dirs(root: Path) -> Iterator[Path]:
    seen: set[Path] = set()
    for logs in [*root.glob("store/*/*/deduplication_logs"), *root.glob("data/*/*/deduplication_logs")]:
        table_dir = logs.parent.resolve()
        if table_dir not in seen:
            seen.add(table_dir)
            yield table_dir


def _repair_table(table_dir: Path) -> list[DroppedRecord]:
    logs = sorted(
        (int(match.group(1)), path)
        for path in (table_dir / "deduplication_logs").iterdir()
        if (match := _LOG_FILE.match(path.name))
    )
    if not logs:
        return []
    recorded: dict[str, str] = {}  # block id -> part name, replayed as the engine replays it
    for _, path in logs:
        for line in path.read_text(encoding="utf-8").splitlines():
            fields = line.split("\t")
            if len(fields) != 3:
                continue  # a line torn by a power loss; the engine stops reading its file there too
            op, part_name, block_id = fields
            if op == _DROP:
                recorded.pop(block_id, None)
            elif op == _ADD:
                recorded[block_id] = part_name
    stored = _StoredBlocks(entry.name for entry in table_dir.iterdir() if entry.is_dir())
    missing = [
        DroppedRecord(table_dir, part_name, block_id)
        for block_id, part_name in recorded.items()
        if (blocks := block_range(part_name)) is not None and not stored.holds(blocks)
    ]
    if missing:
        # a log of its own, after the others: the engine replays the logs in number order, and the last one
        # may end in a line torn by a power loss, after which the engine reads nothing more of that file
        path = table_dir / "deduplication_logs" / f"deduplication_log_{logs[-1][0] + 1}.txt"
        with path.open("x", encoding="utf-8") as handle:
            handle.write("".join(f"{_DROP}\t{r.part_name}\t{r.block_id}\n" for r in missing))
            handle.flush()
            os.fsync(handle.fileno())
        _owned_like(path, logs[-1][1])
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    return missing


def _owned_like(path: Path, model: Path) -> None:
    """Give ``path`` the owner and mode of the engine's log ``model``: the engine appends to the newest log,
    and a server runs as its own user while an operator may repair its directory as root."""
    wanted, written = model.stat(), path.stat()
    os.chmod(path, wanted.st_mode & 0o7777)
    if (written.st_uid, written.st_gid) != (wanted.st_uid, wanted.st_gid):
        os.chown(path, wanted.st_uid, wanted.st_gid)  # only root may; anyone else wrote as the engine's user


class _StoredBlocks:
    """The block ranges of a table's parts on disk, merged per partition for lookup by bisection (a
    table holds up to thousands of parts and its logs up to tens of thousands of records)."""

    def __init__(self, part_names: Iterable[str]) -> None:
        by_partition: dict[str, list[tuple[int, int]]] = {}
        for name in part_names:
            blocks = block_range(name)
            if blocks is not None:
                by_partition.setdefault(blocks.partition, []).append((blocks.first, blocks.last))
        self._spans: dict[str, tuple[list[int], list[int]]] = {}
        for partition, ranges in by_partition.items():
            firsts: list[int] = []
            lasts: list[int] = []
            for first, last in sorted(ranges):
                if lasts and first <= lasts[-1] + 1:
                    lasts[-1] = max(lasts[-1], last)
                else:
                    firsts.append(first)
                    lasts.append(last)
            self._spans[partition] = (firsts, lasts)

    def holds(self, blocks: BlockRange) -> bool:
        """Whether parts on disk hold every block of ``blocks``."""
        firsts, lasts = self._spans.get(blocks.partition, ([], []))
        index = bisect.bisect_right(firsts, blocks.first) - 1
        return index >= 0 and blocks.last <= lasts[index]
