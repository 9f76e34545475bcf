"""``analytics repair-deduplication-logs DIR``: after a crash of a stopped ClickHouse's (or chDB's) data
directory, drop the insert-deduplication records of blocks whose parts never reached the table, so that the
workers' replay of those batches stores them (ADR 0004). Embedded stores are repaired whenever a process
opens them; this is for a single non-replicated server, run while it is stopped (for example before
restarting it after a crash). Exit 1 while a server or chDB holds the directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``repair-deduplication-logs DIR``; sets ``handler``."""
    parser = subparsers.add_parser(
        "repair-deduplication-logs",
        help="drop the deduplication records of blocks a crash kept from a stopped ClickHouse's tables",
    )
    parser.add_argument("directory", type=Path, help="the data directory (e.g. /var/lib/clickhouse)")
    parser.set_defaults(handler=_cmd_repair)


def _cmd_repair(args: argparse.Namespace) -> int:
    from plumbing.clickhouse import embedded_holder
    from plumbing.deduplication_log import drop_records_of_missing_parts

    directory: Path = args.directory
    if not (directory / "store").is_dir() and not (directory / "data").is_dir():
        print(f"repair-deduplication-logs: {directory} is not a ClickHouse data directory", file=sys.stderr)
        return 1
    dropped = drop_records_of_missing_parts(directory)
    if dropped is None:  # its lock is the engine's, so a running server cannot slip in between
        holder = embedded_holder(directory)
        pid = f" (pid {holder})" if holder else ""
        print(
            f"repair-deduplication-logs: a running ClickHouse holds {directory}{pid}: stop it first",
            file=sys.stderr,
        )
        return 1
    for record in dropped:
        print(f"dropped\t{record.table_dir}\t{record.part_name}\t{record.block_id}")
    tables = len({record.table_dir for record in dropped})
    print(f"{len(dropped)} records of missing parts dropped in {tables} tables", file=sys.stderr)
    return 0
