"""The queue of rollup rebuilds (``rollup_rebuilds``): scheduled by ``PUT /analytics/config`` when a tenant's
time zone changes, carried out by ``analytics rebuild-rollups --pending`` and by ``analytics dev`` in the
background. Each job is marked ``running``, then ``done`` or ``failed`` with the error, so a job that dies
with its process shows as ``running`` and can be scheduled again."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from clickhouse_connect.driver.client import Client

from jobs.rebuild import rebuild_rollups
from plumbing.settings import ZoneLookup
from plumbing.tenant_store import stored_time_zones
from schemas.tenant_config import RebuildStatus, known_zone
from schemas.times import stored_now

log = logging.getLogger(__name__)


REBUILD_COLUMNS = (
    "tenant_id",
    "id",
    "reason",
    "first_day",
    "last_day",
    "status",
    "detail",
    "requested_at",
    "updated_at",
)


def raw_day_range(client: Client, tenant_id: str, zone: str) -> tuple[date, date] | None:
    """First and last local day (in ``zone``) with raw rows of the tenant, over every raw table."""
    local_day = "toDate(timestamp, {zone:String})"
    rows = client.query(
        "SELECT min(d), max(d), count() FROM ("
        f"SELECT {local_day} AS d FROM analytics_events WHERE tenant_id = {{tenant:String}} "
        f"UNION ALL SELECT {local_day} FROM performance_metrics WHERE tenant_id = {{tenant:String}} "
        f"UNION ALL SELECT {local_day} FROM activity_logs WHERE tenant_id = {{tenant:String}} "
        "UNION ALL SELECT date FROM usage_metrics WHERE tenant_id = {tenant:String})",
        parameters={"tenant": tenant_id, "zone": known_zone(zone)},
    ).result_rows
    first, last, count = rows[0]
    return (first, last) if count else None


def _write_rebuild(client: Client, job: dict[str, Any]) -> None:
    """A job's new state: a row that replaces the older ones of the same id (latest ``updated_at``)."""
    client.insert("rollup_rebuilds", [[job[c] for c in REBUILD_COLUMNS]], column_names=list(REBUILD_COLUMNS))


def schedule_rebuild(client: Client, tenant_id: str, first: date, last: date, reason: str) -> str:
    now = stored_now()
    job = {
        "tenant_id": tenant_id,
        "id": str(uuid.uuid4()),
        "reason": reason,
        "first_day": first,
        "last_day": last,
        "status": RebuildStatus.PENDING.value,
        "detail": "",
        "requested_at": now,
        "updated_at": now,
    }
    _write_rebuild(client, job)
    return str(job["id"])


def rebuilds(
    client: Client, tenant_id: str | None = None, status: RebuildStatus | None = None
) -> list[dict[str, Any]]:
    """Rebuild jobs, newest first (latest state of each), optionally of one tenant and one status."""
    conditions, params = [], {}
    if tenant_id is not None:
        conditions.append("tenant_id = {tenant:String}")
        params["tenant"] = tenant_id
    if status is not None:
        conditions.append("status = {status:String}")
        params["status"] = status.value
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = client.query(
        "SELECT tenant_id, toString(id), reason, first_day, last_day, toString(status), detail, "
        f"requested_at, updated_at FROM rollup_rebuilds FINAL {where} ORDER BY requested_at DESC LIMIT 100",
        parameters=params,
    ).result_rows
    return [dict(zip(REBUILD_COLUMNS, row, strict=True)) for row in rows]


def mark_rebuild(client: Client, job: dict[str, Any], status: RebuildStatus, detail: str = "") -> None:
    _write_rebuild(client, {**job, "status": status.value, "detail": detail, "updated_at": stored_now()})


@dataclass(frozen=True)
class RebuildOutcome:
    """What a run did with one scheduled rebuild: the status it ended in and the raw rows fed into the
    rebuilt buckets (none when it failed)."""

    id: str
    tenant_id: str
    status: RebuildStatus
    events: int


def run_pending_rebuilds(
    client: Client, zones: ZoneLookup, show_progress: bool = False
) -> list[RebuildOutcome]:
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
                outcomes.append(RebuildOutcome(job["id"], tenant, RebuildStatus.FAILED, 0))
            continue
        shared = f" (one run for {len(jobs)} requests, {first} to {last})" if len(jobs) > 1 else ""
        for job in jobs:
            mark_rebuild(client, job, RebuildStatus.DONE, f"{report.events} raw rows{shared}")
            outcomes.append(RebuildOutcome(job["id"], tenant, RebuildStatus.DONE, report.events))
    return outcomes
