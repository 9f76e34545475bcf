"""Tenant settings and user tracking preferences: the contract of ``GET/PUT /analytics/config/{user_id}``,
stored in ClickHouse (migration 0007) so every process — gateway, workers, query API — reads the same.

A tenant without a stored row gets the deployment's defaults (``ANALYTICS_TENANT_TIMEZONE(S)``, IP
handling ``store``, user agents kept, the retention defaults below). IP and user-agent handling are applied
by the gateway (:mod:`privacy.policy`). A time-zone change moves every rollup bucket of the
tenant, so saving one schedules a rebuild of the tenant's rollups (:mod:`jobs.rebuild_queue`), which
``analytics rebuild-rollups --pending`` (and ``analytics dev`` in the background) carries out.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from schemas.topics import TRACKABLE_STREAMS, Stream

DEFAULT_RAW_RETENTION_DAYS = 395  # 13 months
DEFAULT_DAILY_ROLLUP_RETENTION_DAYS = 760  # 25 months
DEFAULT_WEEKLY_MONTHLY_ROLLUP_RETENTION_DAYS = 1826  # 5 years


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


def known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


TimeZoneName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(known_zone)]
RawDays = Annotated[int, Field(ge=30, le=3660)]
DailyRollupDays = Annotated[int, Field(ge=30, le=3660)]
WeeklyMonthlyRollupDays = Annotated[int, Field(ge=30, le=7320)]


TrackableStream = Annotated[
    Stream,
    AfterValidator(lambda stream: _trackable(stream)),
    WithJsonSchema({"type": "string", "enum": [s.value for s in TRACKABLE_STREAMS]}),
]


def _trackable(stream: Stream | str) -> Stream | str:
    if Stream(stream) not in TRACKABLE_STREAMS:
        names = ", ".join(s.value for s in TRACKABLE_STREAMS)
        raise ValueError(f"{Stream(stream).value} is not a tracked stream; choose from {names}")
    return stream


TrackedStreams = Annotated[list[TrackableStream], Field(max_length=len(TRACKABLE_STREAMS))]
"""Streams a person's tracking preferences govern (:data:`schemas.topics.TRACKABLE_STREAMS`)."""


class Retention(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    raw_days: RawDays = DEFAULT_RAW_RETENTION_DAYS
    daily_rollup_days: DailyRollupDays = DEFAULT_DAILY_ROLLUP_RETENTION_DAYS
    weekly_monthly_rollup_days: WeeklyMonthlyRollupDays = DEFAULT_WEEKLY_MONTHLY_ROLLUP_RETENTION_DAYS

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
    tracked_streams: TrackedStreams = Field(default_factory=lambda: list(TRACKABLE_STREAMS))


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
    weekly_monthly_rollup_days: Annotated[WeeklyMonthlyRollupDays, Strict()] | None = None


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
