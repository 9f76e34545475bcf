"""``analytics query``: serve the query API (ClickHouse → HTTP); see :mod:`query_api.__main__`."""

from __future__ import annotations

import argparse

from cli.service_options import add_service_parser


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``query [--host H] [--port P]``; sets ``handler``."""
    parser = add_service_parser(subparsers, "query", "serve the query API (ClickHouse → HTTP)")
    parser.set_defaults(handler=_cmd_query)


def _cmd_query(args: argparse.Namespace) -> int:
    from query_api.__main__ import serve

    return serve(host=args.host, port=args.port)
