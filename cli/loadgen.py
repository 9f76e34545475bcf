"""``analytics loadgen``: post realistic synthetic traffic of every stream to a gateway.

The options are :mod:`loadgen.options` (light); the load run itself (:mod:`loadgen.command`, with its
HTTP client) is imported only when the command runs.
"""

from __future__ import annotations

import argparse

from loadgen.options import add_arguments


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``loadgen`` with the options of :func:`loadgen.options.add_arguments`; sets ``handler``."""
    parser = subparsers.add_parser(
        "loadgen", help="post realistic synthetic traffic of every stream to a gateway"
    )
    add_arguments(parser)
    parser.set_defaults(handler=_cmd_loadgen)


def _cmd_loadgen(args: argparse.Namespace) -> int:
    from loadgen.command import main as loadgen

    return loadgen(args)
