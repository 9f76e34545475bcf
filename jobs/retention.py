"""Per-tenant data retention: delete what is older than each tenant's own retention (``tenant_settings``,
changed through ``PUT /analytics/config``; defaults 13 months raw, 25 months daily rollups, 5 years
weekly/monthly rollups).

Two mechanisms, because a ClickHouse table TTL cannot depend on the tenant (see ``docs/retention.md``):

- a **table TTL backstop** (migrations 0012 and 0015) at the longest retention a tenant may set, so storage
  stays bounded even if nothing else ever runs;
- this **job**, which removes each tenant's expired rows: a whole partition is dropped when its entire time
  range is past the retention of every tenant (for a rollup, of every grain: its grains share the table and
  its monthly partitions), the rest by one lightweight ``DELETE`` per table (rows vanish from queries when
  its mutation is done, from disk when merges rewrite their parts).

A tenant's retention here is the one *in force* (ADR 0012): a shortening made through the config API
applies only once its grace period has passed (``schemas.retention_schedule``); until then the longer
setting it replaced still governs, so the settings request itself never deletes anything.

Expired means: raw rows whose event time is more than ``raw_days`` before now (``usage_metrics``: whose
``date`` is before the tenant's local today minus ``raw_days``); rollup rows whose *whole bucket* ended
before the tenant's local today minus the grain's retention (a week or month is kept until its last day
expires, so a rollup never loses days still within the retention).

Entry points: :func:`enforce_retention` (synchronous clickhouse-connect client; what ``analytics retention``
and the Kubernetes CronJob run), :func:`run_retention` (async, through a worker :class:`Storage`, for the
``analytics dev`` upkeep loop) and :func:`add_cli`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from annotated_types import Le
from clickhouse_connect.driver.client import Client
from pydantic import ValidationError

from plumbing.tenant_store import stored_retentions
from schemas.retention_schedule import pending_retention_changes
from schemas.rollups import ROLLUPS, Grain
from schemas.tenant_config import Retention, TenantSettings

if TYPE_CHECKING:
    from plumbing.storage import Storage

log = logging.getLogger(__name__)

DefaultsFor = Callable[[str], TenantSettings]
"""tenant → settings of a tenant without a stored row (``plumbing.tenant_store.default_tenant_settings``)."""


class Tier(StrEnum):
    """Which of a tenant's retention settings governs a set of rows."""

    RAW = "raw_days"
    DAILY = "daily_rollup_days"
    COARSE = "weekly_monthly_rollup_days"


def tier_of(grain: Grain | None) -> Tier:
    """The setting of a raw table's rows (``None``) or of a rollup grain's rows."""
    if grain is None:
        return Tier.RAW
    return Tier.DAILY if grain is Grain.DAY else Tier.COARSE


def max_retention_days(tier: Tier) -> int:
    """The longest retention a tenant may set for ``tier``: the ``le`` bound validated in ``Retention``.
    The backstop TTLs are derived from it, so raising that bound needs a new TTL migration (a unit test
    compares the migrations with :meth:`RetainedTable.backstop_ttl`)."""
    bounds = [m.le for m in Retention.model_fields[tier.value].metadata if isinstance(m, Le)]
    if len(bounds) != 1 or not isinstance(bounds[0], int):
        raise RuntimeError(f"Retention.{tier.value} must declare exactly one integer upper bound (le=...)")
    return bounds[0]


def _by_grain(grains: tuple[Grain, ...], values: list[str]) -> str:
    """SQL choosing each row's value by its ``grain`` column (``values`` in the order of ``grains``): the last
    grain's is the default, as a table stores no other; one grain needs no choice."""
    if len(values) != len(grains) or not values:
        raise ValueError("one value per grain")
    if len(values) == 1:
        return values[0]
    branches = [f"grain = '{g.value}', {value}" for g, value in zip(grains[:-1], values[:-1], strict=True)]
    return f"multiIf({', '.join(branches)}, {values[-1]})"


@dataclass(frozen=True)
class RetainedTable:
    """A table whose rows expire: its time column, and for a rollup the grains it stores (each grain's rows
    follow their own setting). Every retained table is partitioned by month of its time column."""

    name: str
    column: str
    is_datetime: bool
    """``DateTime64`` event time (compared as an instant) or ``Date`` (compared as the tenant's local day)."""
    grains: tuple[Grain, ...] = ()
    """Rollups: the grains in its ``grain`` column (``column`` is the bucket start); empty for raw tables."""

    @property
    def slices(self) -> tuple[Grain | None, ...]:
        """The row sets with a bound of their own: each stored grain, or a raw table's rows (``None``)."""
        return self.grains or (None,)

    @property
    def partition_key(self) -> str:
        return f"toYYYYMM({self.column})"

    def backstop_grace_days(self, grain: Grain | None = None) -> int:
        """Days the backstop waits beyond the longest retention so it never removes a row the job would keep
        for a tenant at that maximum: one day for event times (``toDateTime`` drops the
        milliseconds), two for dates (a tenant's local day runs up to 14 h ahead of or behind UTC), plus the
        bucket's length for weekly and monthly rollups (kept until their last day expires)."""
        if self.is_datetime:
            return 1
        return 2 + {None: 0, Grain.DAY: 0, Grain.WEEK: 7, Grain.MONTH: 31}[grain]

    def backstop_days(self, grain: Grain | None = None) -> int:
        """Age in days at which the backstop removes rows of ``grain`` (``None``: a raw table's rows)."""
        return max_retention_days(tier_of(grain)) + self.backstop_grace_days(grain)

    def backstop_ttl(self) -> str:
        """The table's TTL expression (as written in the migrations): one per table, so a rollup's picks
        each row's days by its grain."""
        moment = f"toDateTime({self.column})" if self.is_datetime else self.column
        days = [str(self.backstop_days(grain)) for grain in self.slices]
        if len(days) == 1:
            return f"{moment} + INTERVAL {days[0]} DAY"
        return f"{moment} + toIntervalDay({_by_grain(self.grains, days)})"


RAW_RETAINED = (
    RetainedTable("analytics_events", "timestamp", is_datetime=True),
    RetainedTable("performance_metrics", "timestamp", is_datetime=True),
    RetainedTable("usage_metrics", "date", is_datetime=False),
    RetainedTable("activity_logs", "timestamp", is_datetime=True),
)
ROLLUP_RETAINED = tuple(
    RetainedTable(rollup.table, "bucket", is_datetime=False, grains=rollup.grains) for rollup in ROLLUPS
)
RETAINED_TABLES: tuple[RetainedTable, ...] = RAW_RETAINED + ROLLUP_RETAINED


def backstop_statements(tables: Iterable[RetainedTable] = RETAINED_TABLES) -> list[str]:
    """The TTL statements of the migrations, one per table: 0012 wrote the raw tables' (and the per-grain
    rollup tables' of the old layout), 0015 the rollup tables' (``ROLLUP_RETAINED``)."""
    return [f"ALTER TABLE {t.name} MODIFY TTL {t.backstop_ttl()}" for t in tables]


# ---- cutoffs (pure) -----------------------------------------------------------------------------------

Bound = datetime | date
"""Rows whose time column is *before* the bound are expired (a ``datetime`` for event times, else a date)."""

Bounds = dict[Grain | None, dict[str, Bound]]
"""A table's bounds: slice (see :attr:`RetainedTable.slices`) → tenant → bound."""


def local_cutoff_day(now: datetime, zone: ZoneInfo, days: int) -> date:
    """The first local day (in ``zone``) still within a retention of ``days`` days."""
    return now.astimezone(zone).date() - timedelta(days=days)


def bucket_bound(cutoff_day: date, grain: Grain) -> date:
    """Buckets starting before the returned day ended before ``cutoff_day``: a day is expired when it is
    before the cutoff, a week (Monday start) when its Sunday is, a month when its last day is."""
    if grain is Grain.DAY:
        return cutoff_day
    if grain is Grain.WEEK:
        return cutoff_day - timedelta(days=6)
    return cutoff_day.replace(day=1)


def table_bound(
    table: RetainedTable, settings: TenantSettings, now: datetime, grain: Grain | None = None
) -> Bound:
    """The bound of ``table``'s rows of ``grain`` (``None`` for a raw table) for a tenant with ``settings`` at
    ``now`` (an aware datetime)."""
    if grain not in table.slices:
        raise ValueError(f"{table.name} has no rows of grain {grain}")
    days = int(getattr(settings.retention, tier_of(grain).value))
    if table.is_datetime:
        return now.astimezone(UTC) - timedelta(days=days)
    cutoff = local_cutoff_day(now, ZoneInfo(settings.time_zone), days)
    return cutoff if grain is None else bucket_bound(cutoff, grain)


def table_bounds(table: RetainedTable, settings: dict[str, TenantSettings], now: datetime) -> Bounds:
    """Every slice's bound for every tenant of ``settings`` (tenant → settings)."""
    return {
        grain: {tenant: table_bound(table, s, now, grain) for tenant, s in settings.items()}
        for grain in table.slices
    }


_PARTITION_ID = re.compile(r"^[0-9A-Za-z_-]+$")


def partition_range(table: RetainedTable, partition: str) -> tuple[Bound, Bound]:
    """``[start, end)`` of a partition's values (``partition`` is its ``YYYYMM`` key value)."""
    year, month = divmod(int(partition), 100)
    start = date(year, month, 1)
    end = date(year + month // 12, month % 12 + 1, 1)
    if table.is_datetime:
        return datetime(start.year, start.month, start.day, tzinfo=UTC), datetime(
            end.year, end.month, end.day, tzinfo=UTC
        )
    return start, end


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


def _bounds_name(grain: Grain | None) -> str:
    """The query parameter holding a slice's bounds, one per tenant of ``{tenants}``."""
    return "bounds" if grain is None else f"bounds_{grain.value}"


def _tenant_bound_sql(table: RetainedTable, grain: Grain | None) -> str:
    """The row's tenant's bound for ``grain``; a tenant missing from the list (one that appeared after the
    listing) gets a bound that expires nothing."""
    tenant = "transform(toString(tenant_id), {tenants:Array(String)}"
    if table.is_datetime:
        bound = f"{tenant}, {{{_bounds_name(grain)}:Array(Int64)}}, toInt64(0))"
        return f"fromUnixTimestamp64Milli({bound}, 'UTC')"
    return f"{tenant}, {{{_bounds_name(grain)}:Array(Date)}}, toDate(0))"


def _expired_condition(table: RetainedTable) -> str:
    """Per row: the time column before its tenant's bound for the row's grain (one condition, so one
    ``DELETE`` per table covers every grain)."""
    bounds = [_tenant_bound_sql(table, grain) for grain in table.slices]
    return f"{table.column} < {_by_grain(table.grains, bounds) if table.grains else bounds[0]}"


def _bound_value(table: RetainedTable, bound: Bound) -> int | date:
    if table.is_datetime:
        assert isinstance(bound, datetime)
        return int(bound.timestamp() * 1000)
    return bound


def _bound_parameters(table: RetainedTable, bounds: Bounds, tenants: list[str]) -> dict[str, Any]:
    """``{tenants}`` and each slice's bounds in the same order, for :func:`_expired_condition`."""
    params: dict[str, Any] = {"tenants": tenants}
    for grain, per_tenant in bounds.items():
        params[_bounds_name(grain)] = [_bound_value(table, per_tenant[t]) for t in tenants]
    return params


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
        f"AND {_expired_condition(table)}"
    )
    if scanned:
        outcome.rows_deleted = _counts(
            client,
            f"SELECT toString(tenant_id), count() FROM {table.name} WHERE {where} GROUP BY tenant_id",
            {"parts": scanned, **_bound_parameters(table, bounds, list(valid))},
        )
    if dry_run:
        return outcome
    _drop_partitions(client, table, droppable)
    if outcome.rows_deleted:
        deleting = [tenant for tenant in valid if outcome.rows_deleted.get(tenant)]
        # Asynchronous: on chDB a lightweight delete waits ~1-5 s for the mutation scheduler whatever its
        # size, so every table's delete is queued first and :func:`wait_for_deletes` waits for them together.
        client.command(
            f"DELETE FROM {table.name} WHERE {where}",
            parameters={"parts": scanned, **_bound_parameters(table, bounds, deleting)},
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
            raise TimeoutError(f"retention deletes still running after {timeout_s:.0f}s: {pending}")
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
    dropping and queueing (well under a second per million rows scanned on chDB); the wait for the queued
    deletes polls in separate short calls, so ingestion is not blocked meanwhile. Returns when the deletes
    are done, or after ``timeout_s`` with them still running in the background (logged)."""
    at = now or _now()
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


def _now() -> datetime:
    return datetime.now(UTC)


# ---- the CLI ------------------------------------------------------------------------------------------


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
    from plumbing.clickhouse import open_for_command
    from plumbing.settings import CommonSettings
    from plumbing.tenant_store import default_tenant_settings

    settings = CommonSettings()
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
