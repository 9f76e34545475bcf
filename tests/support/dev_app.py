"""The one-process product (``analytics dev``'s app: gateway, in-process bus, writers and query API) built
in process on a test's database, to serve with :func:`tests.support.asgi.served`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from cli.dev_app import create_dev_app
from ingest_gateway.settings import GatewaySettings
from stream_processors.settings import WorkerSettings
from tests.conftest import ClickHouseTarget


def dev_app(clickhouse: ClickHouseTarget, gateway: GatewaySettings | None = None, **worker: Any) -> FastAPI:
    """The app storing into ``clickhouse``; a request's events are committed at once (no gathering wait).
    ``worker``: other worker settings; ``gateway``: the gateway's, else from the environment."""
    settings = WorkerSettings(
        clickhouse_url=clickhouse.url,
        clickhouse_database=clickhouse.database,
        embedded_gather_wait_s=0,
        **worker,
    )
    return create_dev_app(gateway or GatewaySettings(), settings)
