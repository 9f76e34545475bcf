"""Settings shared by every service, and the one place a process builds its settings. Each service extends
:class:`CommonSettings` with its own fields; security, privacy and shutdown keep theirs beside the code
they configure.

All settings come from environment variables with the ``ANALYTICS_`` prefix (or a ``.env`` file), so one
container image serves every role and operators configure it the twelve-factor way.

Contract: a process reads each settings class from the environment once, through :func:`load_settings`,
called by its entry points (``cli/``, a service's ``__main__``, an app factory given no settings); the
objects built there are passed down, and no component reads the environment on its own. One cached object
per class rather than one root composing them all: a process validates only the classes it uses, so a
worker never refuses to start over a gateway-only variable (ADR 0014, "Settings").
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from functools import cache
from typing import Literal, Self, TypeVar
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

ENV_PREFIX = "ANALYTICS_"
ENV_CONFIG = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", env_ignore_empty=True)
"""Of the settings classes added beside :class:`CommonSettings`: an empty variable counts as unset (deploy
files pass optional secrets as ``${VAR:-}``)."""
PLACEHOLDER = "REPLACE_ME"
"""Marks the example secrets of ``deploy/``; a service refuses to run with one."""
DEFAULT_CLICKHOUSE_URL = "chdb://./var/clickhouse"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/config.db"
RETRY_MAX_S = f"{ENV_PREFIX}RETRY_MAX_S"
FORMER_RETRY_MAX_S = f"{ENV_PREFIX}WORKER_RETRY_MAX_S"
"""The deprecated name of ``ANALYTICS_RETRY_MAX_S`` (:attr:`CommonSettings.worker_retry_max_s`)."""
_warned: set[str] = set()


def _deprecated(message: str) -> None:
    """Log ``message`` once per process (every settings class extending :class:`CommonSettings` would
    otherwise repeat it at each load)."""
    if message not in _warned:
        _warned.add(message)
        log.warning(message)


class CommonSettings(BaseSettings):
    """What every process needs: where ClickHouse and Kafka are, and how topics are named."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    clickhouse_url: str = DEFAULT_CLICKHOUSE_URL
    """``chdb://<dir>`` for the embedded engine, or ``http(s)://user:password@host:port`` for a server."""
    clickhouse_database: str = "analytics"
    clickhouse_cluster: str | None = None
    """A cluster of the servers' ``remote_servers``: ``analytics migrate`` then renders every migration for
    it (replicated tables, ``Distributed`` tables sharded by tenant and user, ``ON CLUSTER``; ADR 0019,
    docs/clickhouse-cluster.md). Unset: one server (or the embedded engine), migrations as written."""
    database_url: str = DEFAULT_DATABASE_URL
    """The configuration store (ADR 0017): ``sqlite+aiosqlite:///<file>`` (embedded default, beside the
    embedded ClickHouse store) or ``postgresql+asyncpg://user:password@host:port/db``."""
    kafka_bootstrap: str = "127.0.0.1:9092"
    """Comma-separated ``host:port`` list of Kafka bootstrap servers."""
    topic_prefix: str = "analytics."
    """Prefix of every topic name, so several deployments can share one Kafka cluster."""
    default_tenant: str = "default"
    """Tenant of the tokens ``analytics dev`` prints and ``analytics token`` mints by default (requests
    take their tenant from their credential)."""
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    """Log lines (:mod:`plumbing.logs`): ``json``, one JSON object per line; ``console``, key=value lines
    for people; ``auto``, console when standard error is a terminal, else JSON."""
    tenant_timezone: str = "UTC"
    """IANA zone that rollup buckets use for tenants without one of their own."""
    tenant_timezones: dict[str, str] = {}
    """Per-tenant IANA zones, e.g. ``{"acme": "Europe/Berlin"}`` (JSON in the environment)."""
    retry_max_s: float = 30.0
    """Cap of the jittered exponential backoff (:mod:`plumbing.retry`) of every process: the workers' and
    ``analytics dev``'s store retries while ClickHouse is unavailable, the gateway's Kafka producer
    connect."""
    worker_retry_max_s: float | None = Field(
        None, deprecated="renamed retry_max_s (ANALYTICS_RETRY_MAX_S)", exclude=True, repr=False
    )
    """Deprecated former name of :attr:`retry_max_s` (``ANALYTICS_WORKER_RETRY_MAX_S``, from when only the
    workers retried): still honoured when ``ANALYTICS_RETRY_MAX_S`` is not set, with a warning logged
    once per process. Read :attr:`retry_max_s`."""

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

    @model_validator(mode="after")
    def _former_retry_name(self) -> Self:
        former: float | None = self.__dict__.get("worker_retry_max_s")  # no deprecation warning for us
        if former is None:
            return self
        if "retry_max_s" in self.model_fields_set:
            _deprecated(f"{FORMER_RETRY_MAX_S} is deprecated and ignored: {RETRY_MAX_S} is set; remove it")
        else:
            _deprecated(f"{FORMER_RETRY_MAX_S} is deprecated: rename it {RETRY_MAX_S}")
            self.retry_max_s = former
        return self

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


S = TypeVar("S", bound=BaseSettings)
_loaded: dict[type[BaseSettings], BaseSettings] = {}
_loading = threading.Lock()


def load_settings(kind: type[S]) -> S:
    """The process's settings of class ``kind``: read from the environment (and ``.env``) on the first call,
    the same object on every later one. A subclass is a class of its own (``GatewaySettings`` is read
    apart from ``CommonSettings``). Raises pydantic's ``ValidationError`` naming the variable when one of
    ``kind``'s is invalid; classes nobody asks for are never read, so never refused."""
    with _loading:
        loaded = _loaded.get(kind)
        if loaded is None:
            loaded = _loaded[kind] = kind()
    assert isinstance(loaded, kind)
    return loaded


def forget_loaded_settings() -> None:
    """Forget what :func:`load_settings` built (and which deprecations were logged), so the next call reads
    the environment again, as a new process would. For tests, which set variables per test; a running
    process has no reason to call it (what it built was passed down and stays in use)."""
    with _loading:
        _loaded.clear()
        _warned.clear()
