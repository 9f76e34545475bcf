"""The gateway application: FastAPI routes (the product's ingestion and the learning platform's), envelope-
shaped errors, producer lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ingest_gateway.api.deps import may_ingest
from ingest_gateway.api.routes import health, ingest, learning
from ingest_gateway.intake import Intake
from ingest_gateway.metrics import GatewayMetrics
from ingest_gateway.openapi import INGESTION_BODY_DESCRIPTIONS, ingestion_examples
from ingest_gateway.settings import GatewaySettings
from ingest_gateway.sink import KafkaEventSink
from plumbing.clickhouse import open_client, parse_url
from plumbing.http_errors import install_error_handlers
from plumbing.middleware import RequestContextMiddleware
from plumbing.openapi import install_openapi
from plumbing.responses import EnvelopeResponse
from plumbing.settings import load_settings
from plumbing.shutdown import ShutdownSettings
from privacy.directory import TenantPrivacyDirectory
from privacy.policy import PrivacySettings
from schemas.transport import EventSink
from security.api_key_directory import ApiKeyDirectory
from security.http import authenticate
from security.rate_limit import RateLimiter, RateLimitSettings
from security.tokens import AuthSettings, TokenVerifier
from security.web import WebSecuritySettings, install_web_security

log = logging.getLogger(__name__)


def create_app(
    settings: GatewaySettings | None = None,
    sink: EventSink | None = None,
    verifier: TokenVerifier | None = None,
    api_keys: ApiKeyDirectory | None = None,
    limiter: RateLimiter | None = None,
    privacy: TenantPrivacyDirectory | None = None,
) -> FastAPI:
    """Build the gateway. ``sink`` defaults to Kafka; the embedded mode passes its in-process bus.
    ``verifier`` defaults to the one ``ANALYTICS_AUTH_*`` configures (refusing to build without one).
    ``api_keys`` defaults to the keys in a ClickHouse *server* (``analytics api-keys``); an embedded
    ``chdb://`` store belongs to one process, so there ``analytics dev`` passes its own directory.
    Settings not passed (nor implied by what is passed) are the process's own
    (:func:`plumbing.settings.load_settings`)."""
    settings = settings or load_settings(GatewaySettings)
    verifier = verifier or load_settings(AuthSettings).verifier()
    if limiter is None:
        limits = load_settings(RateLimitSettings)
        limits.check_batch_fits(settings.gateway_max_batch_events)
        limiter = limits.gateway_limiter()
    if not parse_url(settings.clickhouse_url).is_embedded:  # keys and tenant settings of the server
        url, database = settings.clickhouse_url, settings.clickhouse_database
        if api_keys is None:
            api_keys = ApiKeyDirectory(
                lambda: open_client(url, database), refresh_s=settings.gateway_api_key_refresh_s
            )
        if privacy is None:
            privacy = TenantPrivacyDirectory.from_settings(
                load_settings(PrivacySettings), lambda: open_client(url, database), settings.zone_lookup()
            )
    elif sink is None and privacy is None:
        # a Kafka gateway on the embedded default has no shared store to read tenants' settings from
        log.error(
            "ANALYTICS_CLICKHOUSE_URL is the embedded %s: this gateway cannot read ingestion API keys or "
            "tenants' IP and user-agent settings, so keys are refused and every tenant gets the deployment "
            "defaults (IP addresses stored as sent). Point it at the ClickHouse server the workers write to.",
            settings.clickhouse_url,
        )
    sink = sink or KafkaEventSink(settings, load_settings(ShutdownSettings))
    metrics = GatewayMetrics()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await sink.start()
        refresher = asyncio.create_task(api_keys.run(), name="api-keys") if api_keys is not None else None
        if privacy is not None:
            await privacy.start()
        try:
            yield
        finally:
            if refresher is not None and api_keys is not None:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher
                await api_keys.close()
            if privacy is not None:
                await privacy.close()
            await sink.stop()  # graceful: uvicorn stopped accepting; flush what was produced

    app = FastAPI(
        title="Analytics ingestion gateway",
        version="0.1.0",
        lifespan=lifespan,
        default_response_class=EnvelopeResponse,
    )
    app.state.settings = settings
    app.state.auth_verifier = verifier
    app.state.api_keys = api_keys
    app.state.gateway_limiter = limiter
    app.state.sink = sink
    app.state.metrics = metrics
    app.state.intake = Intake(settings, sink, metrics, privacy)
    app.state.privacy = privacy
    app.include_router(ingest.router)
    app.include_router(learning.router)
    app.include_router(health.router)
    install_error_handlers(app)
    # gzip bodies are also capped inflated
    install_web_security(app, settings.gateway_max_body_bytes, load_settings(WebSecuritySettings))
    app.add_middleware(RequestContextMiddleware, metrics=metrics)  # outermost: every answer has an id
    install_openapi(app, authenticate, may_ingest, ingestion_examples(), INGESTION_BODY_DESCRIPTIONS)
    return app


__all__ = ["create_app"]
