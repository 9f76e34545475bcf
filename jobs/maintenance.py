"""Background upkeep of the one-process mode (``analytics dev``): re-read tenant zones, tracking preferences
and erasure suppressions, carry out scheduled rollup rebuilds and requested GDPR deletions. (Distributed
workers refresh zones, preferences and suppressions themselves; rebuilds and deletions there run as
``analytics rebuild-rollups --pending`` and ``analytics privacy-jobs --pending``, which cannot open a chDB
directory another process holds.)"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from jobs.erasure import STALE_AFTER, DeletionOutcome, run_pending_deletions
from jobs.erasure_queue import OPEN_STATUSES, PrivacyJob, privacy_jobs
from jobs.rebuild_queue import run_pending_rebuilds
from jobs.retention import DefaultsFor, run_retention
from plumbing.settings import ZoneLookup
from plumbing.storage import Storage
from plumbing.zones import refresh_stored_zones
from privacy.suppressions import Suppression
from privacy.tracking import TrackingFilter

log = logging.getLogger(__name__)

RETENTION_EVERY_S = 24 * 3600.0
"""How often ``analytics dev`` deletes rows past their tenant's retention (table TTLs are the backstop)."""
DEV_SETTLE_S = 1.0
"""How long after the in-process filter has seen a suppression its job waits: a commit filtered with the
older snapshot is written meanwhile (and would still be caught by the job's last pass)."""


async def maintain(
    storage: Storage,
    zones: ZoneLookup,
    tracking: TrackingFilter,
    interval_s: float,
    settle_s: float = DEV_SETTLE_S,
    retention: DefaultsFor | None = None,
    retention_every_s: float = RETENTION_EVERY_S,
) -> None:
    """Forever: refresh, run pending rebuilds and deletions, enforce retention (with ``retention``, each
    tenant's default settings: at start and every ``retention_every_s``), sleep ``interval_s``. Failures
    are logged and retried."""
    stale_after = timedelta(0)  # at start, a `running` deletion was left by this process's predecessor
    retention_due = 0.0
    loop = asyncio.get_running_loop()
    while True:
        try:
            await refresh_stored_zones(storage, zones)
            await tracking.refresh(storage)
            outcomes = await storage.run(
                lambda client: run_pending_rebuilds(client, zones), "rollup rebuilds"
            )
            for outcome in outcomes:
                log.info("rollup rebuild %s of %s: %s", outcome.id, outcome.tenant_id, outcome.status.value)
            await run_deletions(storage, zones, tracking, settle_s, stale_after)
            stale_after = STALE_AFTER
            if retention is not None and loop.time() >= retention_due:
                report = await run_retention(storage, retention)
                retention_due = loop.time() + retention_every_s
                removed = {table: sum(by.values()) for table, by in report.removed().items() if by}
                if removed:
                    log.info("retention removed %s", removed)
        except Exception:  # upkeep must never stop the server; the next round retries
            log.exception("embedded maintenance failed")
        await asyncio.sleep(interval_s)


async def run_deletions(
    storage: Storage,
    zones: ZoneLookup,
    tracking: TrackingFilter,
    settle_s: float = DEV_SETTLE_S,
    stale_after: timedelta = STALE_AFTER,
) -> list[DeletionOutcome]:
    """Run the requested deletions whose suppression this process's filter applies. The filter is every
    writer here, so there is no need to wait for other processes: refresh it, let commits filtered with the
    older snapshot finish (``settle_s``), run."""
    waiting = await storage.run(lambda client: privacy_jobs(client, OPEN_STATUSES), "read privacy jobs")
    if not waiting:
        return []
    await tracking.refresh(storage)
    await asyncio.sleep(settle_s)

    def seen(job: PrivacyJob, suppression: Suppression) -> bool:
        return tracking.suppression(job.tenant_id, job.user_id) == suppression

    outcomes = await storage.run(
        lambda client: run_pending_deletions(client, zones, seen, stale_after), "privacy jobs"
    )
    for outcome in outcomes:
        log.info(
            "privacy job %s (%s/%s): %s", outcome.id, outcome.tenant_id, outcome.user_id, outcome.status.value
        )
    return outcomes
