"""``analytics gateway``: serve the ingestion gateway (HTTP → Kafka); see :mod:`ingest_gateway.__main__`."""

from __future__ import annotations

import argparse

from cli.service_options import add_service_parser


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``gateway [--host H] [--port P] [--workers N]``; sets ``handler``."""
    parser = add_service_parser(subparsers, "gateway", "serve the ingestion gateway (HTTP → Kafka)")
    parser.add_argument("--workers", type=int, help="worker processes (overrides ANALYTICS_GATEWAY_WORKERS)")
    parser.set_defaults(handler=_cmd_gateway)


def _cmd_gateway(args: argparse.Namespace) -> int:
    from ingest_gateway.__main__ import serve

    return serve(host=args.host, port=args.port, workers=args.workers)
