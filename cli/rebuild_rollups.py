"""``analytics rebuild-rollups``: recompute the rollups of a tenant-local date range from the raw tables,
or (``--pending``) run the rebuilds that time-zone changes scheduled."""

from __future__ import annotations

import argparse
import sys
from datetime import date


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``rebuild-rollups (--from DAY --to DAY [--tenant T] | --pending)``; sets ``handler``."""
    parser = subparsers.add_parser(
        "rebuild-rollups", help="recompute rollups of a date range from the raw tables"
    )
    parser.add_argument("--from", dest="start", help="first day (YYYY-MM-DD), tenant-local")
    parser.add_argument("--to", dest="end", help="last day (YYYY-MM-DD), tenant-local")
    parser.add_argument(
        "--pending", action="store_true", help="run the rebuilds scheduled by time-zone changes instead"
    )
    parser.add_argument("--tenant", help="only this tenant (default: every tenant with raw data)")
    parser.set_defaults(handler=_cmd_rebuild)


def _cmd_rebuild(args: argparse.Namespace) -> int:
    """Exit 1 when a scheduled rebuild failed, 2 when neither a date range nor ``--pending`` was given."""
    from jobs.rebuild import rebuild_rollups
    from jobs.rebuild_queue import run_pending_rebuilds
    from plumbing.clickhouse import open_for_command
    from plumbing.settings import load_settings
    from plumbing.tenant_store import stored_time_zones
    from stream_processors.settings import WorkerSettings

    settings = load_settings(WorkerSettings)
    client = open_for_command(settings.clickhouse_url, settings.clickhouse_database)
    try:
        if args.pending:
            outcomes = run_pending_rebuilds(client, settings.zone_lookup(), show_progress=True)
            for outcome in outcomes:
                print(f"{outcome.status.value} {outcome.id} ({outcome.tenant_id}, {outcome.events} raw rows)")
            print(f"{len(outcomes)} scheduled rebuild(s) run")
            return 1 if any(o.status.value == "failed" for o in outcomes) else 0
        if not (args.start and args.end):
            print("rebuild-rollups: --from and --to are required (or --pending)", file=sys.stderr)
            return 2
        zones = settings.zone_lookup()
        zones.use_stored(stored_time_zones(client))  # zones saved through the config API win
        report = rebuild_rollups(
            client,
            date.fromisoformat(args.start),
            date.fromisoformat(args.end),
            zones,
            tenant=args.tenant,
            show_progress=True,
        )
    finally:
        client.close()
    skipped = f", {report.skipped} skipped (time outside the supported range)" if report.skipped else ""
    print(f"rebuilt rollups of {report.tenants} tenant(s) from {report.events} raw rows{skipped}")
    return 0
