"""The gateway application: FastAPI routes, envelope-shaped errors, producer lifecycle."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ingest_gateway.api.routes import health, ingest
from ingest_gateway.intake import Intake
from ingest_gateway.metrics import GatewayMetrics
from ingest_gateway.middleware import RequestContextMiddleware
from ingest_gateway.settings import GatewaySettings
from ingest_gateway.sink import EventSink, KafkaEventSink
from schemas.envelope import EnvelopeResponse
from schemas.http_errors import install_error_handlers

log = logging.getLogger(__name__)


def create_app(settings: GatewaySettings | None = None, sink: EventSink | None = None) -> FastAPI:
    """Build the gateway. ``sink`` defaults to Kafka; the embedded mode passes its in-process bus."""
    settings = settings or GatewaySettings()
    sink = sink or KafkaEventSink(settings)
    metrics = GatewayMetrics()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await sink.start()
        try:
            yield
        finally:
            await sink.stop()  # graceful: uvicorn stopped accepting; flush what was produced

    app = FastAPI(
        title="Analytics ingestion gateway",
        version="0.1.0",
        lifespan=lifespan,
        default_response_class=EnvelopeResponse,
    )
    app.state.settings = settings
    app.state.sink = sink
    app.state.metrics = metrics
    app.state.intake = Intake(settings, sink, metrics)
    app.include_router(ingest.router)
    app.include_router(health.router)
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app


__all__ = ["create_app"]
