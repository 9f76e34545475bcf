"""Settings shared by every service. Each service extends :class:`CommonSettings` with its own fields.

All settings come from environment variables with the ``ANALYTICS_`` prefix (or a ``.env`` file), so one
container image serves every role and operators configure it the twelve-factor way.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "ANALYTICS_"
ENV_CONFIG = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", env_ignore_empty=True)
"""Of the settings classes added beside :class:`CommonSettings`: an empty variable counts as unset (deploy
files pass optional secrets as ``${VAR:-}``)."""
PLACEHOLDER = "REPLACE_ME"
"""Marks the example secrets of ``deploy/``; a service refuses to run with one."""
DEFAULT_CLICKHOUSE_URL = "chdb://./var/clickhouse"


class CommonSettings(BaseSettings):
    """What every process needs: where ClickHouse and Kafka are, and how topics are named."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    clickhouse_url: str = DEFAULT_CLICKHOUSE_URL
    """``chdb://<dir>`` for the embedded engine, or ``http(s)://user:password@host:port`` for a server."""
    clickhouse_database: str = "analytics"
    kafka_bootstrap: str = "127.0.0.1:9092"
    """Comma-separated ``host:port`` list of Kafka bootstrap servers."""
    topic_prefix: str = "analytics."
    """Prefix of every topic name, so several deployments can share one Kafka cluster."""
    default_tenant: str = "default"
    """Tenant of the tokens ``analytics dev`` prints and ``analytics token`` mints by default (requests
    take their tenant from their credential)."""
    log_level: str = "INFO"
    tenant_timezone: str = "UTC"
    """IANA zone that rollup buckets use for tenants without one of their own."""
    tenant_timezones: dict[str, str] = {}
    """Per-tenant IANA zones, e.g. ``{"acme": "Europe/Berlin"}`` (JSON in the environment)."""
    worker_retry_max_s: float = 30.0
    """Cap of the jittered exponential backoff (:mod:`plumbing.retry`) of every process: the workers' and
    ``analytics dev``'s store retries while ClickHouse is unavailable, the gateway's Kafka producer
    connect."""

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
    """tenant → ZoneInfo: a zone stored through the config API, else the configured one, else the default."""

    def __init__(self, default: str, per_tenant: dict[str, str]) -> None:
        self._default = _zone(default)
        self._per_tenant = {tenant: _zone(zone) for tenant, zone in per_tenant.items()}
        self._stored: dict[str, ZoneInfo] = {}

    def __call__(self, tenant_id: str) -> ZoneInfo:
        stored = self._stored.get(tenant_id)
        if stored is not None:
            return stored
        return self._per_tenant.get(tenant_id, self._default)

    def use_stored(self, zones: dict[str, str]) -> None:
        """Replace the stored zones (``tenant_settings``), e.g. after a periodic refresh."""
        self._stored = {tenant: _zone(zone) for tenant, zone in zones.items()}


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


DEFAULT_RETENTION_GRACE_DAYS = 7


class RetentionScheduleSettings(BaseSettings):
    """``ANALYTICS_RETENTION_GRACE_DAYS``: the deployment's part of retention changes."""

    model_config = ENV_CONFIG

    retention_grace_days: int = Field(DEFAULT_RETENTION_GRACE_DAYS, ge=0, le=365)
    """Days between a retention shortening and the first run of the job that applies it (0: the next run)."""

    @property
    def retention_grace(self) -> timedelta:
        return timedelta(days=self.retention_grace_days)
