"""``analytics dev``: the whole product in one process on the embedded store.

The gateway app with the in-process bus (:class:`stream_processors.embedded.EmbeddedSink`) instead of
Kafka, and the query API's routes mounted beside it, on one port.
"""

from __future__ import annotations

from fastapi import FastAPI

from ingest_gateway.main import create_app
from ingest_gateway.settings import GatewaySettings
from schemas.migrate import migrate
from schemas.storage import open_client
from stream_processors.embedded import EmbeddedSink
from stream_processors.settings import WorkerSettings
from stream_processors.storage import Storage


def create_dev_app(gateway: GatewaySettings | None = None, worker: WorkerSettings | None = None) -> FastAPI:
    """Migrate the store, then build the one-process app (call from the process that will serve it)."""
    gateway = gateway or GatewaySettings()
    worker = worker or WorkerSettings()
    client = open_client(worker.clickhouse_url, worker.clickhouse_database, create_database=True)
    try:
        migrate(client)
    finally:
        client.close()
    storage = Storage(
        lambda: open_client(worker.clickhouse_url, worker.clickhouse_database), worker.worker_retry_max_s
    )
    sink = EmbeddedSink(worker, storage, timeout_s=gateway.gateway_produce_timeout_s)
    app = create_app(gateway, sink)
    app.title = "Event analytics (embedded)"
    return app
