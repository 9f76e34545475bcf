"""Carrying out scheduled rollup rebuilds (``rollup_rebuilds``, written by ``PUT /analytics/config`` when a
tenant's time zone changes): ``analytics rebuild-rollups --pending``, and ``analytics dev`` in the
background. Each job is marked ``running``, then ``done`` or ``failed`` with the error, so a job that dies
with its process shows as ``running`` and can be scheduled again."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from schemas.settings import ZoneLookup
from schemas.tenant_config import RebuildStatus, mark_rebuild, rebuilds, stored_time_zones
from stream_processors.rebuild import rebuild_rollups

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobOutcome:
    id: str
    tenant_id: str
    status: RebuildStatus
    events: int


def run_pending_rebuilds(client: Client, zones: ZoneLookup, show_progress: bool = False) -> list[JobOutcome]:
    """Run every pending rebuild, oldest first, in the tenants' stored time zones."""
    zones.use_stored(stored_time_zones(client))
    outcomes = []
    for job in reversed(rebuilds(client, status=RebuildStatus.PENDING)):
        mark_rebuild(client, job, RebuildStatus.RUNNING)
        try:
            report = rebuild_rollups(
                client,
                job["first_day"],
                job["last_day"],
                zones,
                tenant=job["tenant_id"],
                show_progress=show_progress,
            )
        except Exception as exc:  # noqa: BLE001 - the job records why it failed; the next one still runs
            log.exception("rollup rebuild %s failed", job["id"])
            mark_rebuild(client, job, RebuildStatus.FAILED, f"{type(exc).__name__}: {exc}")
            outcomes.append(JobOutcome(job["id"], job["tenant_id"], RebuildStatus.FAILED, 0))
            continue
        mark_rebuild(client, job, RebuildStatus.DONE, f"{report.events} raw rows")
        outcomes.append(JobOutcome(job["id"], job["tenant_id"], RebuildStatus.DONE, report.events))
    return outcomes
