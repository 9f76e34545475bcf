"""Settings of the stream-processor workers (``ANALYTICS_WORKER_*`` and the shared ``ANALYTICS_*``)."""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo

from pydantic import field_validator

from schemas.settings import CommonSettings


class WorkerSettings(CommonSettings):
    worker_group_prefix: str = "analytics-"
    """Consumer groups are ``<prefix><agent group>``: ``analytics-raw``, ``analytics-rollups``."""
    worker_batch_max_messages: int = 5000
    """Kafka messages per batch (each carries up to a request's events for one partition)."""
    worker_batch_within_s: float = 1.0
    """Longest wait before a partial batch is written."""
    worker_data_dir: str = "var/faust"
    """Faust's local data directory (it keeps no state we rely on: offsets live in Kafka)."""
    worker_retry_max_s: float = 30.0
    """Cap of the exponential backoff while ClickHouse is unavailable."""
    tenant_timezone: str = "UTC"
    """IANA zone that rollup buckets use for tenants without one of their own."""
    tenant_timezones: dict[str, str] = {}
    """Per-tenant IANA zones, e.g. ``{"acme": "Europe/Berlin"}`` (JSON in the environment)."""

    @field_validator("tenant_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @field_validator("tenant_timezones")
    @classmethod
    def _known_zones(cls, value: dict[str, str]) -> dict[str, str]:
        for zone in value.values():
            ZoneInfo(zone)
        return value

    def zone_lookup(self) -> ZoneLookup:
        return ZoneLookup(self.tenant_timezone, dict(self.tenant_timezones))


class ZoneLookup:
    """tenant → ZoneInfo, with the default for tenants that have no zone configured."""

    def __init__(self, default: str, per_tenant: dict[str, str]) -> None:
        self._default = _zone(default)
        self._per_tenant = {tenant: _zone(zone) for tenant, zone in per_tenant.items()}

    def __call__(self, tenant_id: str) -> ZoneInfo:
        return self._per_tenant.get(tenant_id, self._default)


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
