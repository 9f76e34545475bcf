"""Tenant settings and user tracking preferences: the contract of ``GET/PUT /analytics/config/{user_id}``,
stored in ClickHouse (migration 0007) so every process — gateway, workers, query API — reads the same.

A tenant without a stored row gets the deployment's defaults (``ANALYTICS_TENANT_TIMEZONE(S)``, IP
handling ``store``, user agents kept, the retention defaults below). IP and user-agent handling are applied
by the gateway (:mod:`schemas.privacy`). A time-zone change moves every rollup bucket of the
tenant, so saving one schedules a rebuild of the tenant's rollups (:func:`schedule_rebuild`), which
``analytics rebuild-rollups --pending`` (and ``analytics dev`` in the background) carries out.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clickhouse_connect.driver.client import Client
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from schemas.settings import CommonSettings
from schemas.topics import Stream

DEFAULT_RAW_RETENTION_DAYS = 395  # 13 months
DEFAULT_DAILY_ROLLUP_RETENTION_DAYS = 760  # 25 months
DEFAULT_COARSE_ROLLUP_RETENTION_DAYS = 1826  # 5 years


class IpHandling(StrEnum):
    STORE = "store"
    TRUNCATE = "truncate"
    HASH = "hash"
    DROP = "drop"


class UserAgentHandling(StrEnum):
    KEEP = "keep"
    """Store the raw user agent besides its parsed browser, OS and device."""
    DROP = "drop"
    """Store only the parsed fields."""


class RebuildStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


TimeZoneName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_known_zone)]


class Retention(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    raw_days: int = Field(DEFAULT_RAW_RETENTION_DAYS, ge=30, le=3660)
    daily_rollup_days: int = Field(DEFAULT_DAILY_ROLLUP_RETENTION_DAYS, ge=30, le=3660)
    weekly_monthly_rollup_days: int = Field(DEFAULT_COARSE_ROLLUP_RETENTION_DAYS, ge=30, le=7320)

    @model_validator(mode="after")
    def _rollups_outlive_raw(self) -> Retention:
        if self.daily_rollup_days < self.raw_days or self.weekly_monthly_rollup_days < self.daily_rollup_days:
            raise ValueError("retention must not shrink from raw to daily to weekly/monthly rollups")
        return self


class TenantSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)

    time_zone: TimeZoneName = "UTC"
    """IANA zone of the tenant's day, week and month buckets."""
    ip_handling: IpHandling = IpHandling.STORE
    user_agent_handling: UserAgentHandling = UserAgentHandling.KEEP
    """``drop``: keep only the parsed browser/OS/device (a deployment may drop every tenant's)."""
    retention: Retention = Retention()


class TrackingPreferences(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)

    enabled: bool = True
    """``false``: the user opted out of tracking."""
    tracked_streams: list[Stream] = Field(default_factory=lambda: list(Stream), max_length=len(Stream))


class ConfigUpdate(BaseModel):
    """``PUT /analytics/config/{user_id}``: either part, or both; omitted parts stay as they are."""

    model_config = ConfigDict(extra="forbid")

    tracking: TrackingPreferences | None = None
    tenant: TenantSettings | None = None


def default_tenant_settings(settings: CommonSettings, tenant_id: str) -> TenantSettings:
    return TenantSettings(time_zone=settings.tenant_timezones.get(tenant_id, settings.tenant_timezone))


def _now() -> datetime:
    return datetime.now(UTC)


# ---- reads and writes (synchronous clickhouse-connect calls; async callers run them in a thread) ----------


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
                _now(),
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
        parameters={"streams": len(Stream)},
    ).result_rows
    return [(str(t), str(u), bool(e), list(streams)) for t, u, e, streams in rows]


def save_preferences(client: Client, tenant_id: str, user_id: str, value: TrackingPreferences) -> None:
    client.insert(
        "user_preferences",
        [[tenant_id, user_id, value.enabled, list(value.tracked_streams), _now()]],
        column_names=["tenant_id", "user_id", "tracking_enabled", "tracked_streams", "updated_at"],
    )


# ---- rollup rebuilds ----------------------------------------------------------------------------------

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
        parameters={"tenant": tenant_id, "zone": _known_zone(zone)},
    ).result_rows
    first, last, count = rows[0]
    return (first, last) if count else None


def _write_rebuild(client: Client, job: dict[str, Any]) -> None:
    """A job's new state: a row that replaces the older ones of the same id (latest ``updated_at``)."""
    client.insert("rollup_rebuilds", [[job[c] for c in REBUILD_COLUMNS]], column_names=list(REBUILD_COLUMNS))


def schedule_rebuild(client: Client, tenant_id: str, first: date, last: date, reason: str) -> str:
    now = _now()
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
    _write_rebuild(client, {**job, "status": status.value, "detail": detail, "updated_at": _now()})
