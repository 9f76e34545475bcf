"""Scheduled retention shortenings (ADR 0012): a shorter retention never deletes at once.

When ``PUT /analytics/config`` shortens any of a tenant's retention settings, the replaced setting is
recorded with an ``effective_at`` one grace period later (``ANALYTICS_RETENTION_GRACE_DAYS``, default 7) in
``retention_shortenings`` (migration 0018). Until then it keeps protecting the tenant's data. The retention
*in force* at a moment — what the retention job applies — is, tier by tier, the longest of the stored
setting and every replaced setting whose grace period has not passed: a setting in force at any time during
the last grace period protects the data for that whole period, however often the setting changed since.

So changing the setting back (or to anything longer) before ``effective_at`` cancels the deletion, and
shortening it again starts a grace period of its own. The config answer lists what is scheduled
(:func:`pending_retention_changes`); :mod:`stream_processors.retention` applies :func:`retention_in_force`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from clickhouse_connect.driver.client import Client
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings

from schemas.settings import ENV_CONFIG
from schemas.tenant_config import Retention

DEFAULT_RETENTION_GRACE_DAYS = 7


class RetentionScheduleSettings(BaseSettings):
    """``ANALYTICS_RETENTION_GRACE_DAYS``: the deployment's part of retention changes."""

    model_config = ENV_CONFIG

    retention_grace_days: int = Field(DEFAULT_RETENTION_GRACE_DAYS, ge=0, le=365)
    """Days between a retention shortening and the first run of the job that applies it (0: the next run)."""

    @property
    def retention_grace(self) -> timedelta:
        return timedelta(days=self.retention_grace_days)


class RetentionShortening(BaseModel):
    """A change that shortened some tier of a tenant's retention: ``replaced`` protects the tenant's data
    until ``effective_at`` (exclusive); ``requested`` is what the change asked for (a record only)."""

    model_config = ConfigDict(frozen=True)

    changed_at: datetime
    effective_at: datetime
    replaced: Retention
    requested: Retention


class RetentionChange(BaseModel):
    """A step of the retention in force still to come: from ``effective_at`` on, ``new`` replaces ``old``."""

    model_config = ConfigDict(frozen=True)

    effective_at: datetime
    old: Retention
    new: Retention


_TIERS = tuple(Retention.model_fields)


def shortening(
    before: Retention, after: Retention, at: datetime, grace: timedelta
) -> RetentionShortening | None:
    """What a change from ``before`` to ``after`` at ``at`` must record: ``None`` unless some tier got
    shorter (a longer setting applies at once and protects more)."""
    if all(getattr(after, tier) >= getattr(before, tier) for tier in _TIERS):
        return None
    return RetentionShortening(changed_at=at, effective_at=at + grace, replaced=before, requested=after)


def retention_in_force(
    requested: Retention, shortenings: Iterable[RetentionShortening], at: datetime
) -> Retention:
    """The retention the job applies at ``at``: per tier the longest of ``requested`` (the stored setting)
    and each replaced setting still within its grace period (``effective_at`` after ``at``). Valid by
    construction: the per-tier maxima of settings that never shrink from raw to coarse do not either."""
    protecting = [requested, *(s.replaced for s in shortenings if s.effective_at > at)]
    return Retention(**{tier: max(getattr(r, tier) for r in protecting) for tier in _TIERS})


def pending_retention_changes(
    requested: Retention, shortenings: Iterable[RetentionShortening], now: datetime
) -> list[RetentionChange]:
    """Every future step of :func:`retention_in_force`, in time order: at each ``effective_at`` after
    ``now`` where the retention in force gets shorter. Empty when nothing is scheduled (none pending, or
    each pending one overtaken by a setting at least as long)."""
    pending = [s for s in shortenings if s.effective_at > now]
    changes: list[RetentionChange] = []
    old = retention_in_force(requested, pending, now)
    for moment in sorted({s.effective_at for s in pending}):
        new = retention_in_force(requested, pending, moment)
        if new != old:
            changes.append(RetentionChange(effective_at=moment, old=old, new=new))
        old = new
    return changes


# ---- storage (synchronous clickhouse-connect calls) -----------------------------------------------------

_COLUMNS = (
    "tenant_id",
    "changed_at",
    "effective_at",
    "replaced_raw_days",
    "replaced_daily_rollup_days",
    "replaced_weekly_monthly_rollup_days",
    "requested_raw_days",
    "requested_daily_rollup_days",
    "requested_weekly_monthly_rollup_days",
)


def record_shortening(client: Client, tenant_id: str, value: RetentionShortening) -> None:
    """Store ``value``; record it *before* saving the shorter setting, so a failure in between leaves the
    data protected (a record whose setting was never saved protects nothing it did not already)."""
    row = [
        tenant_id,
        value.changed_at,
        value.effective_at,
        *(getattr(value.replaced, tier) for tier in _TIERS),
        *(getattr(value.requested, tier) for tier in _TIERS),
    ]
    client.insert("retention_shortenings", [row], column_names=list(_COLUMNS))


def pending_shortenings(
    client: Client, at: datetime, tenant_id: str | None = None
) -> tuple[dict[str, list[RetentionShortening]], dict[str, str]]:
    """tenant → its shortenings whose grace period has not passed at ``at`` (of one tenant, or all), and
    tenant → why one of its records failed validation (e.g. after ``Retention``'s bounds were lowered): the
    job then leaves that tenant's data alone rather than drop the protection."""
    where = "effective_at > fromUnixTimestamp64Milli({at_ms:Int64}, 'UTC')"
    params: dict[str, object] = {"at_ms": int(at.timestamp() * 1000)}
    if tenant_id is not None:
        where += " AND tenant_id = {tenant:String}"
        params["tenant"] = tenant_id
    rows = client.query(
        f"SELECT {', '.join(_COLUMNS)} FROM retention_shortenings WHERE {where} ORDER BY changed_at",
        parameters=params,
    ).result_rows
    valid: dict[str, list[RetentionShortening]] = {}
    invalid: dict[str, str] = {}
    for tenant, changed, effective, *days in rows:
        try:
            record = RetentionShortening(
                changed_at=_utc(changed),
                effective_at=_utc(effective),
                replaced=Retention(**dict(zip(_TIERS, days[:3], strict=True))),
                requested=Retention(**dict(zip(_TIERS, days[3:], strict=True))),
            )
        except ValidationError as exc:
            invalid[str(tenant)] = f"invalid retention shortening record: {exc.errors()[0]['msg']}"
            continue
        valid.setdefault(str(tenant), []).append(record)
    return valid, invalid


@dataclass(frozen=True, slots=True)
class StoredRetention:
    """One tenant's stored zone and retention: as requested, in force at a moment, and what is pending."""

    zone: str
    requested: Retention
    in_force: Retention
    pending: tuple[RetentionShortening, ...]


def stored_retentions(client: Client, now: datetime) -> tuple[dict[str, StoredRetention], dict[str, str]]:
    """Every stored tenant's retention (latest row) in force at ``now``, and tenant → why its row or one
    of its pending shortenings fails validation (readers then keep all of that tenant's data)."""
    rows = client.query(
        "SELECT tenant_id, time_zone, raw_retention_days, daily_rollup_retention_days, "
        "coarse_rollup_retention_days FROM tenant_settings FINAL"
    ).result_rows
    pending, invalid = pending_shortenings(client, now)
    stored: dict[str, StoredRetention] = {}
    for tenant, zone, raw, daily, coarse in rows:
        name = str(tenant)
        if name in invalid:
            continue
        shortenings = tuple(pending.get(name, ()))
        try:
            requested = Retention(raw_days=raw, daily_rollup_days=daily, weekly_monthly_rollup_days=coarse)
        except ValidationError as exc:
            invalid[name] = f"invalid stored settings: {exc.errors()[0]['msg']}"
            continue
        in_force = retention_in_force(requested, shortenings, now)
        stored[name] = StoredRetention(str(zone), requested, in_force, shortenings)
    return stored, invalid


def _utc(value: datetime) -> datetime:
    """clickhouse-connect returns ``DateTime64(3, 'UTC')`` values naive or aware depending on the client."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
