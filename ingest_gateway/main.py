"""The gateway application: FastAPI routes, envelope-shaped errors, producer lifecycle."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingest_gateway.api.routes import health, ingest
from ingest_gateway.errors import ApiError
from ingest_gateway.intake import Intake
from ingest_gateway.metrics import GatewayMetrics
from ingest_gateway.middleware import RequestContextMiddleware
from ingest_gateway.settings import GatewaySettings
from ingest_gateway.sink import EventSink, KafkaEventSink
from schemas.envelope import EnvelopeResponse, ErrorCode, error

log = logging.getLogger(__name__)

_HTTP_CODES = {
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    429: ErrorCode.RATE_LIMITED,
}


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves in the seed's envelope; nothing leaks a stack trace."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> EnvelopeResponse:
        return EnvelopeResponse(
            error(exc.code, exc.message, exc.details), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def request_validation(_: Request, exc: RequestValidationError) -> EnvelopeResponse:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        return EnvelopeResponse(
            error(ErrorCode.VALIDATION_ERROR, "invalid request", details), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> EnvelopeResponse:
        code = _HTTP_CODES.get(
            exc.status_code,
            ErrorCode.INTERNAL_ERROR if exc.status_code >= 500 else ErrorCode.VALIDATION_ERROR,
        )
        return EnvelopeResponse(
            error(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> EnvelopeResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return EnvelopeResponse(error(ErrorCode.INTERNAL_ERROR, "internal error"), status_code=500)


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
