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
from functools import cache
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from clickhouse_connect.driver.client import Client
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    field_validator,
    model_validator,
)

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
RawDays = Annotated[int, Field(ge=30, le=3660)]
DailyRollupDays = Annotated[int, Field(ge=30, le=3660)]
CoarseRollupDays = Annotated[int, Field(ge=30, le=7320)]
TrackedStreams = Annotated[list[Stream], Field(max_length=len(Stream))]


class Retention(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    raw_days: RawDays = DEFAULT_RAW_RETENTION_DAYS
    daily_rollup_days: DailyRollupDays = DEFAULT_DAILY_ROLLUP_RETENTION_DAYS
    weekly_monthly_rollup_days: CoarseRollupDays = DEFAULT_COARSE_ROLLUP_RETENTION_DAYS

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
    tracked_streams: TrackedStreams = Field(default_factory=lambda: list(Stream))


# ---- partial updates (``PUT /analytics/config``, ADR 0012) ------------------------------------------------


def _not_nullable(schema: dict[str, Any]) -> None:
    """JSON schema of an update model: each property as its value's type, not ``X | null`` (null is
    refused), and without the ``null`` default that only means "not given"."""
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)
        options = prop.get("anyOf")
        if options is not None:
            kept = [o for o in options if o.get("type") != "null"]
            if len(kept) == 1:
                del prop["anyOf"]
                prop.update(kept[0])


class _Update(BaseModel):
    """A partial body: it changes only the fields it names (``model_dump(exclude_unset=True)``); a nested
    update merges field by field; a list is a value and is replaced whole. A named field may not be
    ``null`` (there is no "unset" to go back to: a default is set by naming it)."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True, json_schema_extra=_not_nullable)

    @field_validator("*")
    @classmethod
    def _named_means_a_value(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be omitted, but not null")
        return value


# Updates are strict about numbers and booleans: lax mode would read ``"400"``, ``400.0`` or ``true`` as a
# number of days and ``0``/``"no"`` as ``false``, values their schema (``integer``, ``boolean``) refuses.
class RetentionUpdate(_Update):
    raw_days: Annotated[RawDays, Strict()] | None = None
    daily_rollup_days: Annotated[DailyRollupDays, Strict()] | None = None
    weekly_monthly_rollup_days: Annotated[CoarseRollupDays, Strict()] | None = None


@cache
def _zone_names() -> list[str]:
    """Every zone this host knows (system tz database and the ``tzdata`` package), for the schema."""
    return sorted(available_timezones())


def _zone_enum(schema: dict[str, Any]) -> None:
    schema["enum"] = _zone_names()


class TenantSettingsUpdate(_Update):
    time_zone: Annotated[TimeZoneName, Field(json_schema_extra=_zone_enum)] | None = None
    """The schema lists the known names (an ``enum``), so clients and fuzzers see which strings pass."""
    ip_handling: IpHandling | None = None
    user_agent_handling: UserAgentHandling | None = None
    retention: RetentionUpdate | None = None


class TrackingUpdate(_Update):
    enabled: StrictBool | None = None
    tracked_streams: TrackedStreams | None = None


Current = TypeVar("Current", bound=BaseModel)


def updated(current: Current, update: BaseModel) -> Current:
    """``current`` with what ``update`` names replaced, validated as a whole (``ValidationError`` with
    locations inside ``current``'s model, e.g. a merged retention that shrinks from raw to daily)."""
    return type(current).model_validate(_merge(current.model_dump(), update.model_dump(exclude_unset=True)))


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in patch.items():
        nested = isinstance(value, dict) and isinstance(base.get(key), dict)
        merged[key] = _merge(base[key], value) if nested else value
    return merged


class ConfigUpdate(BaseModel):
    """``PUT /analytics/config/{user_id}``: either part, or both; omitted parts stay as they are, and so
    do the omitted fields of a part (ADR 0012)."""

    model_config = ConfigDict(extra="forbid")

    tracking: TrackingUpdate | None = None
    tenant: TenantSettingsUpdate | None = None


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
