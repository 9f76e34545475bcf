"""``analytics``: one console command for every role, so one image serves them all.

Each command is a module of :mod:`cli` whose ``add_cli`` registers it and sets its ``handler``; this module
holds the root parser, the logging setup (:mod:`plumbing.logs`: JSON lines, console lines on a terminal)
and the one error every command answers alike (a store that cannot be opened: one line, exit 1). Handlers
import their service lazily: ``analytics migrate`` and ``analytics --help`` must not pay for (or need) the
web stack.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from cli import (
    api_keys,
    dev,
    dlq,
    gateway,
    lag,
    loadgen,
    migrate,
    privacy_jobs,
    query,
    rebuild_rollups,
    repair_dedup_logs,
    retention,
    scheduler,
    token,
    topics,
    worker,
)
from plumbing.clickhouse import StoreHeldError, StoreUnavailableError
from plumbing.config_errors import ConfigStoreError, ConfigStoreUnavailable
from plumbing.logs import configure_logging
from plumbing.settings import CommonSettings, load_settings

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The ``analytics`` parser; ``--help`` lists the commands in the order registered here."""
    parser = argparse.ArgumentParser(prog="analytics", description="Event analytics backend.")
    commands = parser.add_subparsers(dest="command", required=True)
    migrate.add_cli(commands)
    topics.add_cli(commands)
    worker.add_cli(commands)
    lag.add_cli(commands)
    dlq.add_cli(commands)
    rebuild_rollups.add_cli(commands)
    repair_dedup_logs.add_cli(commands)
    token.add_cli(commands)
    api_keys.add_cli(commands)
    retention.add_cli(commands)
    privacy_jobs.add_cli(commands)
    loadgen.add_cli(commands)
    dev.add_cli(commands)
    gateway.add_cli(commands)
    query.add_cli(commands)
    scheduler.add_cli(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    common = load_settings(CommonSettings)
    configure_logging(common.log_level, common.log_format)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (
        StoreUnavailableError,
        StoreHeldError,
        ConfigStoreError,
        ConfigStoreUnavailable,
    ) as exc:  # the store cannot be opened: one line, no traceback
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
