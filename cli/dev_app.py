"""``analytics dev``: the whole product in one process on the embedded store.

The gateway app with the in-process bus (:class:`stream_processors.embedded.EmbeddedSink`) instead of
Kafka, and the query API's routes mounted beside it, on one port. With ``demo_url`` an empty store is
filled with demo traffic posted to that URL (the process's own) once it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client
from fastapi import FastAPI
from pydantic import SecretStr

from ingest_gateway.main import create_app
from ingest_gateway.settings import GatewaySettings
from jobs.maintenance import maintain
from loadgen.demo import fill_if_empty
from plumbing.clickhouse import open_client, parse_url
from plumbing.config_db import upgrade
from plumbing.http_errors import install_error_handlers
from plumbing.migrate import migrate
from plumbing.settings import RetentionScheduleSettings, load_settings
from plumbing.shutdown import ShutdownSettings
from plumbing.storage import Storage
from plumbing.tenant_store import default_tenant_settings
from privacy.directory import TenantPrivacyDirectory
from privacy.policy import PrivacySettings
from query_api.lms_reports.delivery import Deliveries
from query_api.lms_reports.schedules import Scheduler
from query_api.main import attach_query_api
from query_api.metrics import QueryMetrics
from query_api.settings import QuerySettings
from schemas.lms_envelope import is_lms_path
from security.api_key_directory import ApiKeyDirectory
from security.rate_limit import RateLimitSettings
from security.tokens import AuthConfigError, AuthSettings, dev_secret, mint_token
from stream_processors.embedded import EmbeddedSink
from stream_processors.settings import WorkerSettings


def _beside(
    app: FastAPI,
    start: Callable[[], Coroutine[Any, Any, object]],
    name: str,
    close: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run ``start()`` as a task beside the app's own lifespan; cancel it (then ``close()``) on shutdown."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        async with inner(application):
            task = asyncio.create_task(start(), name=name)
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                if close is not None:
                    await close()

    app.router.lifespan_context = lifespan


def _with_query_api(app: FastAPI, worker: WorkerSettings, sink: EmbeddedSink) -> None:
    """Mount the query API's routes (metrics on the gateway's registry, so one ``/metrics`` shows both) on
    the workers' store, and run the background upkeep (zones, tracking preferences, scheduled rebuilds)
    beside the app."""
    query_settings = load_settings(QuerySettings).model_copy(
        update={
            "clickhouse_url": worker.clickhouse_url,
            "clickhouse_database": worker.clickhouse_database,
            "database_url": worker.database_url,
        }
    )
    store = attach_query_api(
        app,
        query_settings,
        QueryMetrics(registry=app.state.metrics.registry),
        load_settings(RateLimitSettings).query_limiter(),
        load_settings(RetentionScheduleSettings).retention_grace,
    )
    # bodies posted to the gateway routes answer 422 on schema errors, query parameters and the learning
    # platform's configuration bodies 400 (each service's own rule)
    install_error_handlers(
        app,
        validation_status=lambda request: (
            422 if request.method == "POST" and not is_lms_path(request.url.path) else 400
        ),
    )
    upkeep = Storage(
        lambda: open_client(worker.clickhouse_url, worker.clickhouse_database), worker.retry_max_s
    )

    async def close() -> None:
        await app.state.audit.stop()
        await store.close()
        await app.state.config_db.close()
        upkeep.close()

    _beside(
        app,
        lambda: maintain(
            upkeep,
            sink.zones,
            sink.tracking,
            worker.worker_zone_refresh_s,
            retention=lambda tenant: default_tenant_settings(worker, tenant),
        ),
        "upkeep",
        close,
    )
    jobs = app.state.report_jobs
    _beside(app, jobs.maintain, "report-jobs", jobs.close)  # closes before the stores above
    deliveries = Deliveries(jobs.settings, jobs.files)
    scheduler = Scheduler(jobs, store, deliveries, app.state.query_tenants.zone)
    _beside(app, scheduler.run_forever, "report-scheduler")


def create_dev_app(
    gateway: GatewaySettings | None = None,
    worker: WorkerSettings | None = None,
    demo_url: str | None = None,
) -> FastAPI:
    """Migrate the store, then build the one-process app (call from the process that will serve it).
    Settings not passed are the process's own (:func:`plumbing.settings.load_settings`)."""
    gateway = gateway or load_settings(GatewaySettings)
    worker = worker or load_settings(WorkerSettings)
    client = open_client(worker.clickhouse_url, worker.clickhouse_database, create_database=True)
    try:
        migrate(client)
    finally:
        client.close()
    upgrade(worker.database_url)

    def open_writer() -> Client:
        writer = open_client(worker.clickhouse_url, worker.clickhouse_database)
        # a feed table's views write their parts in parallel, not one after another (more events/s: CHANGELOG)
        writer.set_client_setting("parallel_view_processing", 1)
        return writer

    storage = Storage(open_writer, worker.retry_max_s)
    sink = EmbeddedSink(
        worker, storage, load_settings(ShutdownSettings), timeout_s=gateway.gateway_produce_timeout_s
    )
    auth = dev_auth(worker.clickhouse_url)
    keys = ApiKeyDirectory(
        lambda: open_client(worker.clickhouse_url, worker.clickhouse_database),
        refresh_s=gateway.gateway_api_key_refresh_s,
    )
    privacy_settings = load_settings(PrivacySettings)
    if privacy_settings.privacy_secret is None:  # a stable local key, like the token secret
        local = dev_secret(_dev_folder(worker.clickhouse_url), "dev-privacy-secret")
        privacy_settings = privacy_settings.model_copy(update={"privacy_secret": SecretStr(local)})
    privacy = TenantPrivacyDirectory.from_settings(
        privacy_settings,
        lambda: open_client(worker.clickhouse_url, worker.clickhouse_database),
        worker.zone_lookup(),
    )
    app = create_app(gateway, sink, auth.verifier(), keys, privacy=privacy)
    app.title = "Event analytics (embedded)"
    app.state.metrics.registry.register(sink.metrics.registry)  # one /metrics: gateway, bus, query API
    _with_query_api(app, worker, sink)
    secret = auth.auth_jwt_secret.get_secret_value() if auth.auth_jwt_secret else None
    if secret is not None:  # a token to try the API with (printed by `analytics dev`)
        app.state.dev_token = mint_token(
            secret, "dev-admin", worker.default_tenant, ["admin"], ttl_s=DEV_TOKEN_TTL_S
        )
    if demo_url is not None:  # fill an empty store once the server answers; stop it if the server stops
        if secret is None:
            raise AuthConfigError("--demo signs its traffic with an HS256 secret; a key or JWKS is set")
        demo_token = mint_token(secret, "demo-loader", worker.default_tenant, ["service"], ttl_s=3600)
        store = (worker.clickhouse_url, worker.clickhouse_database)  # named when it is not empty
        _beside(app, lambda: fill_if_empty(storage, demo_url, demo_token, *store), "demo-fill")
    return app


DEV_TOKEN_TTL_S = 30 * 24 * 3600


def dev_auth(clickhouse_url: str) -> AuthSettings:
    """The configured ``ANALYTICS_AUTH_*`` settings, or — when none is set — a local HS256 secret kept
    beside the embedded store (``dev-auth-secret``), so ``make run`` works without an identity provider
    while every request still carries a token."""
    auth = load_settings(AuthSettings)
    if auth.configured():
        return auth
    return auth.model_copy(update={"auth_jwt_secret": SecretStr(dev_secret(_dev_folder(clickhouse_url)))})


def _dev_folder(clickhouse_url: str) -> Path:
    """Where ``analytics dev`` keeps its local secrets: beside the embedded store."""
    target = parse_url(clickhouse_url)
    return Path(target.location).parent if target.is_embedded else Path("var")
