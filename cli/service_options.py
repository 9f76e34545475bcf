"""The options every serving command shares (``analytics dev``, ``gateway``, ``query``): where to bind,
overriding the service's own ``*_HOST`` / ``*_PORT`` settings when given."""

from __future__ import annotations

import argparse


def add_service_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> argparse.ArgumentParser:
    """Register the subcommand ``name`` with ``--host`` and ``--port`` (both default to None: the handler
    falls back to the settings); the caller adds its own options and ``handler``."""
    parser = subparsers.add_parser(name, help=help_text)
    parser.add_argument("--host", help="bind address (overrides the service's *_HOST setting)")
    parser.add_argument("--port", type=int, help="port (overrides the service's *_PORT setting)")
    return parser
