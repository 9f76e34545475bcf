"""``analytics scheduler``: run due report schedules (generate, then e-mail and notify webhooks); several
may run over one configuration store, each due time runs once (:mod:`query_api.lms_reports.schedules`)."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Coroutine
from typing import Any


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``scheduler [--once]``; sets ``handler``."""
    parser = subparsers.add_parser(
        "scheduler", help="run due report schedules: generate, e-mail, notify webhooks (until stopped)"
    )
    parser.add_argument("--once", action="store_true", help="run what is due now, then exit")
    parser.set_defaults(handler=_cmd_scheduler)


def _cmd_scheduler(args: argparse.Namespace) -> int:
    from plumbing.config_db import upgrade
    from plumbing.settings import load_settings
    from query_api.lms_reports.service import run_scheduler
    from query_api.lms_reports.settings import ReportSettings
    from query_api.settings import QuerySettings

    settings = load_settings(QuerySettings)
    upgrade(settings.database_url)
    try:
        runs = asyncio.run(
            _until_stopped(run_scheduler(settings, load_settings(ReportSettings), once=args.once))
        )
    except KeyboardInterrupt:
        return 0
    if args.once:
        print(f"scheduler: {runs} scheduled run(s)")
    return 0


async def _until_stopped(running: Coroutine[Any, Any, int]) -> int:
    """Run ``running``; SIGTERM or SIGINT cancel it, so a report being generated is recorded as stopped
    (``FAILED``) rather than left for the next sweep."""
    task = asyncio.ensure_future(running)
    loop = asyncio.get_running_loop()
    for stop in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        return 0
