"""``analytics privacy-jobs --pending``: carry out the GDPR deletions requested through the query API (what
the distributed deployment's CronJob runs; ``analytics dev`` runs them itself). A deletion runs only once
every worker must have seen its suppression (:mod:`jobs.erasure`). The handler imports the job: registering
the command must not load the store client."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

    from jobs.erasure import DeletionOutcome
    from plumbing.settings import ZoneLookup

SETTLE_MARGIN_S = 10.0
"""Distributed: beyond the workers' refresh interval, how old a suppression must be before its job runs
(a batch filtered just before a refresh still has to be written)."""


def run_pending_cli(
    client: Client,
    zones: ZoneLookup,
    wait_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> list[DeletionOutcome]:
    """Run the ripe jobs; if younger ones remain, wait until they ripen (at most ``wait_s``) and run again,
    so a request is carried out by the next scheduled run, not the one after."""
    from jobs.erasure import older_than, run_pending_deletions
    from jobs.erasure_queue import JobStatus, privacy_jobs
    from schemas.times import stored_now

    ready = older_than(wait_s)
    outcomes = run_pending_deletions(client, zones, ready)
    waiting = privacy_jobs(client, (JobStatus.PENDING,))
    if waiting:
        youngest = max(job.requested_at for job in waiting)
        sleep(
            max(0.0, min(wait_s, (youngest + timedelta(seconds=wait_s) - stored_now()).total_seconds())) + 0.5
        )
        outcomes += run_pending_deletions(client, zones, ready)
    return outcomes


def _cmd_privacy_jobs(args: argparse.Namespace) -> int:
    from jobs.erasure_queue import JobStatus
    from plumbing.clickhouse import open_for_command
    from plumbing.settings import load_settings
    from stream_processors.settings import WorkerSettings

    if not args.pending:
        print("privacy-jobs: say --pending to run the requested deletions", file=sys.stderr)
        return 2
    settings = load_settings(WorkerSettings)
    wait_s = args.wait_s if args.wait_s is not None else settings.worker_zone_refresh_s + SETTLE_MARGIN_S
    client = open_for_command(settings.clickhouse_url, settings.clickhouse_database)
    try:
        outcomes = run_pending_cli(client, settings.zone_lookup(), wait_s)
    finally:
        client.close()
    for outcome in outcomes:
        print(
            f"{outcome.status.value} {outcome.id} ({outcome.tenant_id}/{outcome.user_id}: "
            f"{outcome.raw_rows} raw, {outcome.rollup_rows} rollup rows)"
        )
    print(f"{len(outcomes)} privacy job(s) run")
    return 1 if any(o.status is JobStatus.FAILED for o in outcomes) else 0


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``privacy-jobs --pending`` on the ``analytics`` command's subparsers (sets ``handler``)."""
    jobs = subparsers.add_parser(
        "privacy-jobs", help="carry out the GDPR deletions requested through the query API"
    )
    jobs.add_argument("--pending", action="store_true", help="run every pending deletion")
    jobs.add_argument(
        "--wait-s",
        type=float,
        help="how old a deletion's suppression must be before it runs: every worker must have seen it "
        f"(default: ANALYTICS_WORKER_ZONE_REFRESH_S + {SETTLE_MARGIN_S:.0f})",
    )
    jobs.set_defaults(handler=_cmd_privacy_jobs)
