"""Carrying out scheduled rollup rebuilds (``rollup_rebuilds``, written by ``PUT /analytics/config`` when a
tenant's time zone changes): ``analytics rebuild-rollups --pending``, and ``analytics dev`` in the
background. Each job is marked ``running``, then ``done`` or ``failed`` with the error, so a job that dies
with its process shows as ``running`` and can be scheduled again."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

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
    """Run every pending rebuild in the tenants' stored time zones: one run per tenant over the union of
    its pending ranges, since every run buckets in the zone stored *now* (several zone changes before the
    rebuilds ran need one rebuild, not one each)."""
    zones.use_stored(stored_time_zones(client))
    by_tenant: dict[str, list[dict[str, Any]]] = {}
    for job in reversed(rebuilds(client, status=RebuildStatus.PENDING)):  # oldest first
        by_tenant.setdefault(job["tenant_id"], []).append(job)
    outcomes = []
    for tenant, jobs in by_tenant.items():
        for job in jobs:
            mark_rebuild(client, job, RebuildStatus.RUNNING)
        first, last = min(j["first_day"] for j in jobs), max(j["last_day"] for j in jobs)
        try:
            report = rebuild_rollups(client, first, last, zones, tenant=tenant, show_progress=show_progress)
        except Exception as exc:  # noqa: BLE001 - the jobs record why they failed; the next tenant still runs
            log.exception("rollup rebuild of %s (%s) failed", tenant, ", ".join(j["id"] for j in jobs))
            for job in jobs:
                mark_rebuild(client, job, RebuildStatus.FAILED, f"{type(exc).__name__}: {exc}")
                outcomes.append(JobOutcome(job["id"], tenant, RebuildStatus.FAILED, 0))
            continue
        shared = f" (one run for {len(jobs)} requests, {first} to {last})" if len(jobs) > 1 else ""
        for job in jobs:
            mark_rebuild(client, job, RebuildStatus.DONE, f"{report.events} raw rows{shared}")
            outcomes.append(JobOutcome(job["id"], tenant, RebuildStatus.DONE, report.events))
    return outcomes
