"""The gateway in process for HTTP tests: an in-memory sink in place of Kafka, the app served over ASGI
with an admin's token, and a tenant directory holding a fixed raw retention."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from clickhouse_connect.driver.client import Client

from ingest_gateway.main import create_app
from ingest_gateway.settings import GatewaySettings
from privacy.directory import TenantPrivacyDirectory
from schemas.event_time import RawRetention
from schemas.messages import unpack_batch
from schemas.transport import Record, SinkUnavailable
from tests.support.asgi import served
from tests.support.auth import TENANT, bearer

RAW_DAYS = 30
"""The raw retention :func:`retention_directory` gives the test tenant."""


class RecordingSink:
    """Keeps published records; can be switched to refuse like an unreachable broker."""

    def __init__(self, partitions: int = 3) -> None:
        self.records: list[tuple[str, int, bytes, bytes]] = []
        self.available = True
        self.partition_count = partitions

    async def start(self) -> None: ...
    async def stop(self) -> None: ...

    async def ready(self) -> bool:
        return self.available

    async def partitions(self, topic: str) -> int:
        if not self.available:
            raise SinkUnavailable("broker down (test)")
        return self.partition_count

    async def publish(self, topic: str, records: Sequence[Record], headers: list[tuple[str, bytes]]) -> None:
        if not self.available:
            raise SinkUnavailable("broker down (test)")
        self.records.extend((topic, partition, key, value) for partition, key, value in records)

    def messages(self) -> list[dict[str, Any]]:
        """Every event published, in request order (events sorted back by their batch position)."""
        return [event for _, _, _, value in self.records for event in unpack_batch(value)]


@asynccontextmanager
async def gateway_client(
    sink: RecordingSink,
    settings: GatewaySettings | None = None,
    privacy: TenantPrivacyDirectory | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a gateway publishing to ``sink``, sending an admin's token of the test tenant."""
    app = create_app(settings or GatewaySettings(), sink, privacy=privacy)
    async with served(app, "http://gateway", bearer()) as http:
        yield http


def _clickhouse_down() -> Client:
    raise ConnectionError("ClickHouse is down (test)")


def retention_directory() -> TenantPrivacyDirectory:
    """A tenant directory holding a :data:`RAW_DAYS` raw retention for the test tenant (its refreshes
    fail, so the snapshot stays as set)."""
    tenants = TenantPrivacyDirectory(_clickhouse_down, b"s" * 32, refresh_s=3600)
    tenants.use({})
    tenants.use_retention({TENANT: RawRetention(RAW_DAYS, ZoneInfo("UTC"))})
    return tenants


def iso(moment: datetime) -> str:
    """A UTC instant as a body's time (``...Z``)."""
    return moment.isoformat().replace("+00:00", "Z")
