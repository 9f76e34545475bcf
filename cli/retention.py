"""``analytics retention``: delete (or, by default, count) the rows past each tenant's retention, with the
synchronous job of :mod:`jobs.retention` (what the Kubernetes CronJob runs). The handler imports the job:
registering the command must not load the store client."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs.retention import RetentionReport


def _now() -> datetime:
    """The moment the command applies the retentions at (tests set it)."""
    return datetime.now(UTC)


def _print_report(report: RetentionReport) -> None:
    verb = "would remove" if report.dry_run else "removed"
    for name, outcome in report.tables.items():
        if outcome.partitions_dropped:
            action = "would drop" if report.dry_run else "dropped"
            print(f"{name}: {action} partitions {', '.join(outcome.partitions_dropped)}")
        for tenant_id, rows in sorted(outcome.removed.items()):
            print(f"{name}: {verb} {rows} rows of tenant {tenant_id}")
    for tenant_id, why in report.skipped_tenants.items():
        print(f"tenant {tenant_id} skipped: {why}", file=sys.stderr)
    for tenant_id, when in sorted(report.deferred.items()):
        print(
            f"tenant {tenant_id}: a shorter retention takes effect at {when.isoformat()} "
            "(the longer one applies until then)"
        )
    print(f"{verb} {report.total_rows} rows in {report.seconds:.1f}s")


def _cmd_retention(args: argparse.Namespace) -> int:
    from jobs.retention import enforce_retention, wait_for_deletes
    from plumbing.clickhouse import open_for_command
    from plumbing.settings import CommonSettings, load_settings
    from plumbing.tenant_store import default_tenant_settings

    settings = load_settings(CommonSettings)
    dry_run = args.dry_run or not args.apply
    client = open_for_command(settings.clickhouse_url, settings.clickhouse_database)
    still_running = ""
    try:
        report = enforce_retention(
            client,
            _now(),
            lambda tenant_id: default_tenant_settings(settings, tenant_id),
            tenant=args.tenant,
            dry_run=dry_run,
            wait=False,
        )
        try:
            wait_for_deletes(client, report.deleting, timeout_s=args.wait_s)
        except TimeoutError as exc:  # the deletes go on in the background; the next run finds the rest
            still_running = str(exc)
    finally:
        client.close()
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        _print_report(report)
        if dry_run:
            print("dry run: nothing deleted (pass --apply to delete)")
    if still_running:
        print(f"retention: {still_running}", file=sys.stderr)
    return 0


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``analytics retention [--apply] [--dry-run] [--tenant T] [--json]``; sets ``handler``."""
    parser = subparsers.add_parser(
        "retention",
        help="delete rows past each tenant's retention (raw tables and rollups)",
        description=(
            "Delete raw and rollup rows older than each tenant's retention (tenant settings, else the "
            "defaults: raw 13 months, daily rollups 25 months, weekly/monthly 5 years; a shortened "
            "setting only once its grace period has passed). Without --apply, only counts what would be "
            "deleted. An embedded chdb:// store belongs to one process: while "
            "`analytics dev` runs, it enforces retention itself."
        ),
    )
    parser.add_argument("--apply", action="store_true", help="delete (without it: a dry run)")
    parser.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    parser.add_argument(
        "--tenant", help="only this tenant (its pending shortenings still wait for their grace period)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument(
        "--wait-s",
        type=float,
        default=600.0,
        help="wait this long for the row deletes to finish (default 600)",
    )
    parser.set_defaults(handler=_cmd_retention)
