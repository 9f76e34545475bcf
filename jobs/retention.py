"""Per-tenant data retention: delete what is older than each tenant's own retention (``tenant_settings``,
changed through ``PUT /analytics/config``; defaults 13 months raw, 25 months daily rollups, 5 years
weekly/monthly rollups), the product's and the learning platform's tables alike (the LMS current-state
tables have none: :mod:`jobs.retention_tables`).

Two mechanisms, because a ClickHouse table TTL cannot depend on the tenant (see ``docs/retention.md``):

- a **table TTL backstop** (migrations 0012, 0015 and 0020, :mod:`jobs.retention_tables`) at the longest
  retention a tenant may set, so storage stays bounded even if nothing else ever runs;
- this **job**, which removes each tenant's expired rows: a whole partition is dropped when its entire time
  range is past the retention of every tenant (for a rollup, of every grain: its grains share the table and
  its monthly partitions), the rest by one lightweight ``DELETE`` per table (rows vanish from queries when
  its mutation is done, from disk when merges rewrite their parts).

A tenant's retention here is the one *in force* (ADR 0012): a shortening made through the config API
applies only once its grace period has passed (``schemas.retention_schedule``); until then the longer
setting it replaced still governs, so the settings request itself never deletes anything. What counts as
expired is defined in :mod:`jobs.retention_bounds`.

Entry points: :func:`enforce_retention` (synchronous clickhouse-connect client; what ``analytics retention``
(:mod:`cli.retention`) and the Kubernetes CronJob run) and :func:`run_retention` (async, through a worker
:class:`Storage`, for the ``analytics dev`` upkeep loop).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from clickhouse_connect.driver.client import Client
from pydantic import ValidationError

from jobs.retention_bounds import Bounds, bound_parameters, expired_condition, partition_range, table_bounds
from jobs.retention_tables import RETAINED_TABLES, RetainedTable
from plumbing.tenant_store import stored_retentions
from schemas.retention_schedule import pending_retention_changes
from schemas.tenant_config import TenantSettings

if TYPE_CHECKING:
    from plumbing.storage import Storage

log = logging.getLogger(__name__)

DefaultsFor = Callable[[str], TenantSettings]
"""tenant → settings of a tenant without a stored row (``plumbing.tenant_store.default_tenant_settings``)."""


# ---- the report ---------------------------------------------------------------------------------------


@dataclass
class TableRetention:
    """What the job removed from one table (or would remove, in a dry run). Row counts are stored rows,
    counted just before removing them (not-yet-merged duplicates of a key count separately)."""

    table: str
    partitions_dropped: list[str] = field(default_factory=list)
    rows_in_dropped_partitions: dict[str, int] = field(default_factory=dict)
    """tenant → rows"""
    rows_deleted: dict[str, int] = field(default_factory=dict)
    """tenant → rows removed by ``DELETE``"""

    @property
    def removed(self) -> dict[str, int]:
        """tenant → every row removed, by partition drop or by ``DELETE``."""
        total = dict(self.rows_in_dropped_partitions)
        for tenant, rows in self.rows_deleted.items():
            total[tenant] = total.get(tenant, 0) + rows
        return total


@dataclass
class RetentionReport:
    now: datetime
    dry_run: bool
    tenant: str | None
    """Only this tenant's rows were considered (a run right after its settings changed)."""
    tables: dict[str, TableRetention] = field(default_factory=dict)
    skipped_tenants: dict[str, str] = field(default_factory=dict)
    """tenant → why its stored settings were not applied (it keeps everything; the backstop still holds)."""
    deferred: dict[str, datetime] = field(default_factory=dict)
    """tenant → when its last pending shortening takes effect (until then a longer retention applied)."""
    seconds: float = 0.0

    @property
    def deleting(self) -> list[str]:
        """Tables with rows removed by ``DELETE`` (asynchronous mutations)."""
        return [name for name, t in self.tables.items() if t.rows_deleted and not self.dry_run]

    def removed(self) -> dict[str, dict[str, int]]:
        """table → tenant → rows removed, for tables that lost any."""
        return {name: t.removed for name, t in self.tables.items() if t.removed}

    @property
    def total_rows(self) -> int:
        return sum(sum(rows.values()) for rows in self.removed().values())

    def to_json(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "tenant": self.tenant,
            "total_rows": self.total_rows,
            "seconds": round(self.seconds, 3),
            "tables": {
                name: {
                    "partitions_dropped": t.partitions_dropped,
                    "rows_in_dropped_partitions": t.rows_in_dropped_partitions,
                    "rows_deleted": t.rows_deleted,
                }
                for name, t in self.tables.items()
                if t.removed or t.partitions_dropped
            },
            "skipped_tenants": self.skipped_tenants,
            "deferred": {tenant: when.isoformat() for tenant, when in self.deferred.items()},
        }


# ---- the job ------------------------------------------------------------------------------------------


def stored_tenant_settings(
    client: Client, now: datetime
) -> tuple[dict[str, TenantSettings], dict[str, str], dict[str, datetime]]:
    """Every stored tenant's zone and the retention *in force* at ``now`` (latest row; a shorter setting
    only once its grace period has passed, :func:`schemas.retention_schedule.retention_in_force`), the
    tenants whose row or pending shortening fails validation with the reason (the job leaves their data
    alone rather than guess), and tenant → when its last pending shortening takes effect."""
    retentions, invalid = stored_retentions(client, now)
    stored: dict[str, TenantSettings] = {}
    deferred: dict[str, datetime] = {}
    for name, retention in retentions.items():
        try:
            stored[name] = TenantSettings(time_zone=retention.zone, retention=retention.in_force)
        except ValidationError as exc:
            invalid[name] = f"invalid stored settings: {exc.errors()[0]['msg']}"
            continue
        if changes := pending_retention_changes(retention.requested, retention.pending, now):
            deferred[name] = changes[-1].effective_at
    return stored, invalid, deferred


_PARTITION_ID = re.compile(r"^[0-9A-Za-z_-]+$")


def _partitions(client: Client, table: RetainedTable) -> tuple[dict[str, str], bool]:
    """partition id → key value of the table's active parts, and whether the partition key is the one
    :func:`partition_range` understands (else no partition is dropped and every one is scanned)."""
    rows = client.query(
        "SELECT DISTINCT partition_id, partition FROM system.parts "
        "WHERE database = currentDatabase() AND table = {t:String} AND active",
        parameters={"t": table.name},
    ).result_rows
    key = client.query(
        "SELECT partition_key FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
        parameters={"t": table.name},
    ).result_rows
    known = bool(key) and str(key[0][0]) == table.partition_key
    return {str(pid): str(value) for pid, value in rows}, known


def _counts(client: Client, sql: str, parameters: dict[str, Any]) -> dict[str, int]:
    return {str(tenant): int(rows) for tenant, rows in client.query(sql, parameters=parameters).result_rows}


def _split_partitions(
    table: RetainedTable, partitions: dict[str, str], bounds: Bounds, known_key: bool, may_drop: bool
) -> tuple[list[str], list[str]]:
    """(droppable, scanned) partition ids. A partition holds every slice (a rollup's all grains), so it is
    dropped only when every value it can hold is expired for every tenant in every slice; it is scanned
    when any of its values may be expired for some tenant and slice."""
    every = [bound for per_tenant in bounds.values() for bound in per_tenant.values()]
    droppable: list[str] = []
    if known_key and may_drop:
        earliest = min(every)  # all datetimes or all dates, by the table's kind
        droppable = sorted(p for p, v in partitions.items() if partition_range(table, v)[1] <= earliest)
    latest = max(every)
    scanned = sorted(
        p
        for p, v in partitions.items()
        if p not in droppable and (not known_key or partition_range(table, v)[0] < latest)
    )
    return droppable, scanned


def _drop_partitions(client: Client, table: RetainedTable, partitions: list[str]) -> None:
    for partition in partitions:
        if not _PARTITION_ID.match(partition):
            raise ValueError(f"unexpected partition id {partition!r} of {table.name}")
        client.command(f"ALTER TABLE {table.name} DROP PARTITION ID '{partition}'")


def _enforce_table(
    client: Client,
    table: RetainedTable,
    now: datetime,
    settings_for: Callable[[str], TenantSettings | None],
    stored_tenants: Iterable[str],
    only_tenant: str | None,
    dry_run: bool,
) -> TableRetention:
    outcome = TableRetention(table.name)
    partitions, known_key = _partitions(client, table)
    if not partitions:
        return outcome
    if only_tenant is not None:
        tenants = {only_tenant}
    else:
        in_table = client.query(f"SELECT DISTINCT toString(tenant_id) FROM {table.name}").result_rows
        tenants = {str(row[0]) for row in in_table} | set(stored_tenants)
    settings = {tenant: settings_for(tenant) for tenant in sorted(tenants)}
    valid = {tenant: s for tenant, s in settings.items() if s is not None}
    if not valid:
        return outcome
    bounds = table_bounds(table, valid, now)
    # A partition may be dropped only when the bounds cover every tenant that may have rows in it (any
    # tenant in the table or with stored settings; one whose settings were skipped keeps all).
    may_drop = only_tenant is None and len(valid) == len(settings)
    droppable, scanned = _split_partitions(table, partitions, bounds, known_key, may_drop)
    if droppable:
        outcome.partitions_dropped = droppable
        outcome.rows_in_dropped_partitions = _counts(
            client,
            f"SELECT toString(tenant_id), count() FROM {table.name} "
            "WHERE _partition_id IN {parts:Array(String)} GROUP BY tenant_id",
            {"parts": droppable},
        )
    where = (
        "_partition_id IN {parts:Array(String)} AND tenant_id IN {tenants:Array(String)} "
        f"AND {expired_condition(table)}"
    )
    if scanned:
        outcome.rows_deleted = _counts(
            client,
            f"SELECT toString(tenant_id), count() FROM {table.name} WHERE {where} GROUP BY tenant_id",
            {"parts": scanned, **bound_parameters(table, bounds, list(valid))},
        )
    if dry_run:
        return outcome
    _drop_partitions(client, table, droppable)
    if outcome.rows_deleted:
        deleting = [tenant for tenant in valid if outcome.rows_deleted.get(tenant)]
        # Asynchronous: on chDB a lightweight delete waits for the mutation scheduler whatever its size
        # (docs/retention.md, ADR 0012), so every table's delete is queued first and
        # :func:`wait_for_deletes` waits for them together.
        client.command(
            f"DELETE FROM {table.name} WHERE {where}",
            parameters={"parts": scanned, **bound_parameters(table, bounds, deleting)},
            settings={"lightweight_deletes_sync": 0},
        )
    return outcome


def enforce_retention(
    client: Client,
    now: datetime,
    defaults: DefaultsFor,
    *,
    tenant: str | None = None,
    dry_run: bool = False,
    wait: bool = True,
    tables: Iterable[RetainedTable] = RETAINED_TABLES,
) -> RetentionReport:
    """Remove every row past its tenant's retention at ``now`` (aware) from the raw and rollup tables, or
    with ``dry_run`` only count them, each tenant at the retention in force at ``now`` (a pending
    shortening not yet). ``tenant``: only that tenant's rows (no partition is dropped then). Partitions
    are dropped at once; row deletes are queued and, with ``wait``, waited for (:func:`wait_for_deletes`),
    else they finish in the background within seconds.
    Safe to run again at any time and beside ingestion (a late row landing in a dropped partition is
    expired for every known tenant)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    started = time.perf_counter()
    report = RetentionReport(now=now, dry_run=dry_run, tenant=tenant)
    stored, invalid, deferred = stored_tenant_settings(client, now)
    report.skipped_tenants = {t: why for t, why in invalid.items() if tenant in (None, t)}
    report.deferred = {t: when for t, when in deferred.items() if tenant in (None, t)}

    def settings_for(name: str) -> TenantSettings | None:
        if name in invalid:
            return None
        return stored.get(name) or defaults(name)

    for table in tables:
        outcome = _enforce_table(client, table, now, settings_for, [*stored, *invalid], tenant, dry_run)
        report.tables[table.name] = outcome
        if outcome.removed:
            log.info(
                "retention %s%s: dropped partitions %s, rows %s",
                table.name,
                " (dry run)" if dry_run else "",
                outcome.partitions_dropped or "none",
                outcome.removed,
            )
    if wait and report.deleting:
        wait_for_deletes(client, report.deleting)
    report.seconds = time.perf_counter() - started
    return report


def pending_deletes(client: Client, tables: Iterable[str]) -> dict[str, str]:
    """Tables with unfinished mutations (our deletes, or anyone's), each with its latest failure ('' if
    none): the rows of a queued delete stay visible until its mutation is done."""
    rows = client.query(
        "SELECT table, argMax(latest_fail_reason, create_time) FROM system.mutations "
        "WHERE database = currentDatabase() AND table IN {tables:Array(String)} AND NOT is_done "
        "GROUP BY table",
        parameters={"tables": list(tables)},
    ).result_rows
    return {str(table): str(reason) for table, reason in rows}


def wait_for_deletes(
    client: Client, tables: Iterable[str], timeout_s: float = 600.0, poll_s: float = 0.2
) -> None:
    """Block until the tables have no unfinished mutation; ``TimeoutError`` (with any failure reasons) after
    ``timeout_s`` — ClickHouse keeps retrying a failing mutation, so the job does not."""
    names = list(tables)
    deadline = time.monotonic() + timeout_s
    while pending := pending_deletes(client, names):
        if time.monotonic() > deadline:
            raise TimeoutError(f"deletes still running after {timeout_s:.0f}s: {pending}")
        time.sleep(poll_s)


async def run_retention(
    storage: Storage,
    defaults: DefaultsFor,
    *,
    tenant: str | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    timeout_s: float = 600.0,
) -> RetentionReport:
    """:func:`enforce_retention` through a worker :class:`Storage` (off the event loop, retried until it
    succeeds), for ``analytics dev``'s upkeep loop. The storage's client is held only while counting,
    dropping and queueing; the wait for the queued deletes polls in separate short calls, so ingestion is
    not blocked meanwhile. Returns when the deletes
    are done, or after ``timeout_s`` with them still running in the background (logged)."""
    at = now or datetime.now(UTC)
    report = await storage.run(
        lambda client: enforce_retention(client, at, defaults, tenant=tenant, dry_run=dry_run, wait=False),
        "retention",
    )
    deadline = time.monotonic() + timeout_s
    tables = report.deleting
    while tables:
        pending = await storage.run(lambda client: pending_deletes(client, tables), "retention deletes")
        if not pending:
            break
        if time.monotonic() > deadline:
            log.warning("retention deletes still running after %.0fs: %s", timeout_s, pending)
            break
        await asyncio.sleep(0.5)
    return report
