"""The tenant's stored settings: ``tenant_settings``, ``user_preferences`` and ``retention_shortenings``
(migrations 0007 and 0018), read and written by every process — gateway, workers, query API, jobs — with
synchronous clickhouse-connect calls (async callers run them in a thread). The models are the contract of
:mod:`schemas.tenant_config` and :mod:`schemas.retention_schedule`; this module is their only table access.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from clickhouse_connect.driver.client import Client
from pydantic import ValidationError

from plumbing.settings import CommonSettings
from schemas.retention_schedule import TIERS, RetentionShortening, retention_in_force
from schemas.tenant_config import (
    IpHandling,
    Retention,
    TenantSettings,
    TrackingPreferences,
    UserAgentHandling,
)
from schemas.times import as_utc, stored_now
from schemas.topics import TRACKABLE_STREAMS, Stream


def default_tenant_settings(settings: CommonSettings, tenant_id: str) -> TenantSettings:
    return TenantSettings(time_zone=settings.tenant_timezones.get(tenant_id, settings.tenant_timezone))


def load_tenant_settings(client: Client, tenant_id: str, defaults: TenantSettings) -> TenantSettings:
    rows = client.query(
        "SELECT time_zone, toString(ip_handling), toString(user_agent_handling), raw_retention_days, "
        "daily_rollup_retention_days, coarse_rollup_retention_days FROM tenant_settings FINAL "
        "WHERE tenant_id = {tenant:String}",
        parameters={"tenant": tenant_id},
    ).result_rows
    if not rows:
        return defaults
    zone, ip, ua, raw, daily, coarse = rows[0]
    return TenantSettings(
        time_zone=zone,
        ip_handling=IpHandling(ip),
        user_agent_handling=UserAgentHandling(ua),
        retention=Retention(raw_days=raw, daily_rollup_days=daily, weekly_monthly_rollup_days=coarse),
    )


def stored_time_zones(client: Client) -> dict[str, str]:
    """Every tenant's stored time zone (tenants without a row use the deployment's default)."""
    rows = client.query("SELECT tenant_id, time_zone FROM tenant_settings FINAL").result_rows
    return {str(tenant): str(zone) for tenant, zone in rows}


def stored_privacy(client: Client) -> dict[str, tuple[IpHandling, UserAgentHandling]]:
    """Every tenant's stored (IP handling, user-agent handling); tenants without a row use the defaults."""
    rows = client.query(
        "SELECT tenant_id, toString(ip_handling), toString(user_agent_handling) FROM tenant_settings FINAL"
    ).result_rows
    return {str(tenant): (IpHandling(ip), UserAgentHandling(ua)) for tenant, ip, ua in rows}


def save_tenant_settings(client: Client, tenant_id: str, value: TenantSettings) -> None:
    client.insert(
        "tenant_settings",
        [
            [
                tenant_id,
                value.time_zone,
                value.ip_handling,
                value.user_agent_handling,
                value.retention.raw_days,
                value.retention.daily_rollup_days,
                value.retention.weekly_monthly_rollup_days,
                stored_now(),
            ]
        ],
        column_names=[
            "tenant_id",
            "time_zone",
            "ip_handling",
            "user_agent_handling",
            "raw_retention_days",
            "daily_rollup_retention_days",
            "coarse_rollup_retention_days",
            "updated_at",
        ],
    )


def load_preferences(client: Client, tenant_id: str, user_id: str) -> TrackingPreferences:
    rows = client.query(
        "SELECT tracking_enabled, tracked_streams FROM user_preferences FINAL "
        "WHERE tenant_id = {tenant:String} AND user_id = {user:String}",
        parameters={"tenant": tenant_id, "user": user_id},
    ).result_rows
    if not rows:
        return TrackingPreferences()
    enabled, streams = rows[0]
    return TrackingPreferences(enabled=bool(enabled), tracked_streams=[Stream(s) for s in streams])


def restricted_preferences(client: Client) -> list[tuple[str, str, bool, list[str]]]:
    """(tenant, user, tracking enabled, tracked streams) of every user who opted out or tracks fewer
    streams than all: the only ones a worker needs to know."""
    rows = client.query(
        "SELECT tenant_id, user_id, tracking_enabled, tracked_streams FROM user_preferences FINAL "
        "WHERE NOT tracking_enabled OR length(tracked_streams) < {streams:UInt8}",
        parameters={"streams": len(TRACKABLE_STREAMS)},
    ).result_rows
    return [(str(t), str(u), bool(e), list(streams)) for t, u, e, streams in rows]


def save_preferences(client: Client, tenant_id: str, user_id: str, value: TrackingPreferences) -> None:
    client.insert(
        "user_preferences",
        [[tenant_id, user_id, value.enabled, list(value.tracked_streams), stored_now()]],
        column_names=["tenant_id", "user_id", "tracking_enabled", "tracked_streams", "updated_at"],
    )


# ---- retention shortenings (ADR 0012) ----

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
        *(getattr(value.replaced, tier) for tier in TIERS),
        *(getattr(value.requested, tier) for tier in TIERS),
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
                changed_at=as_utc(changed),
                effective_at=as_utc(effective),
                replaced=Retention(**dict(zip(TIERS, days[:3], strict=True))),
                requested=Retention(**dict(zip(TIERS, days[3:], strict=True))),
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
