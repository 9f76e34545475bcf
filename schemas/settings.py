"""Settings shared by every service. Each service extends :class:`CommonSettings` with its own fields.

All settings come from environment variables with the ``ANALYTICS_`` prefix (or a ``.env`` file), so one
container image serves every role and operators configure it the twelve-factor way.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "ANALYTICS_"
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
    """Tenant stamped on events until credentials carry one (the "Security" issue)."""
    log_level: str = "INFO"
