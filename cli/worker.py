"""``analytics worker``: run stream-processor agent groups (Kafka → ClickHouse) in this process.

:func:`add_agents_option` is the ``--agents`` option of this command and of ``analytics lag``, which
reports the lag of the same groups.
"""

from __future__ import annotations

import argparse


def add_agents_option(parser: argparse.ArgumentParser) -> None:
    """``--agents raw,rollups``: the agent groups, parsed by the handler (the parser stays free of Faust)."""
    parser.add_argument("--agents", default="raw,rollups", help="agent groups: raw,rollups (any subset)")


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``worker [--agents GROUPS]``; sets ``handler``."""
    parser = subparsers.add_parser("worker", help="run stream-processor agent groups (Kafka → ClickHouse)")
    add_agents_option(parser)
    parser.set_defaults(handler=_cmd_worker)


def _cmd_worker(args: argparse.Namespace) -> int:
    from stream_processors.__main__ import parse_groups, run_worker

    return run_worker(parse_groups(args.agents))
