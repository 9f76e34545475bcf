"""Settings of the query API (``ANALYTICS_QUERY_*``)."""

from __future__ import annotations

from schemas.settings import CommonSettings


class QuerySettings(CommonSettings):
    query_host: str = "127.0.0.1"
    query_port: int = 8001
