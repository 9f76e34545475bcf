"""When a tenant's rows expire: each tenant's bound per table and grain, the range of a table's monthly
partitions, and the SQL condition selecting the rows before their tenant's bound. Pure: no I/O.

Expired means: raw rows whose event time is more than ``raw_days`` before now (``usage_metrics``: whose
``date`` is before the tenant's local today minus ``raw_days``); rollup rows whose *whole bucket* ended
before the tenant's local today minus the grain's retention (a week or month is kept until its last day
expires, so a rollup never loses days still within the retention).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jobs.retention_tables import RetainedTable, choose_by_grain, tier_of
from schemas.rollups import Grain
from schemas.tenant_config import TenantSettings

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


# ---- the SQL condition of expired rows ------------------------------------------------------------------


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


def expired_condition(table: RetainedTable) -> str:
    """Per row: the time column before its tenant's bound for the row's grain (one condition, so one
    ``DELETE`` per table covers every grain)."""
    bounds = [_tenant_bound_sql(table, grain) for grain in table.slices]
    return f"{table.column} < {choose_by_grain(table.grains, bounds) if table.grains else bounds[0]}"


def _bound_value(table: RetainedTable, bound: Bound) -> int | date:
    if table.is_datetime:
        assert isinstance(bound, datetime)
        return int(bound.timestamp() * 1000)
    return bound


def bound_parameters(table: RetainedTable, bounds: Bounds, tenants: list[str]) -> dict[str, Any]:
    """``{tenants}`` and each slice's bounds in the same order, for :func:`expired_condition`."""
    params: dict[str, Any] = {"tenants": tenants}
    for grain, per_tenant in bounds.items():
        params[_bounds_name(grain)] = [_bound_value(table, per_tenant[t]) for t in tenants]
    return params
