"""The query API application: read endpoints of the product-analytics seed, from ClickHouse rollups."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from fastapi import Depends, FastAPI, Request

from plumbing.clickhouse import open_client, parse_url
from plumbing.config_db import ConfigDatabase
from plumbing.http_errors import error_response, install_error_handlers
from plumbing.middleware import RequestContextMiddleware
from plumbing.openapi import error_responses, install_openapi
from plumbing.responses import EnvelopeResponse
from plumbing.settings import RetentionScheduleSettings, load_settings
from query_api.admission import Admission, default_admission_limit
from query_api.api.routes import (
    activities,
    audit,
    config,
    dashboard,
    events,
    health,
    performance,
    privacy,
    usage,
)
from query_api.cache import ResultCache
from query_api.lms.catalog_cache import CatalogDirectory
from query_api.lms.state import READ_SETTINGS
from query_api.lms_api.routes import courses as lms_courses
from query_api.lms_api.routes import (
    custom_dashboards,
    custom_metrics,
    engagement,
    exports,
    institutes,
    realtime,
    report_schedules,
    reports,
    snapshots,
    system,
    teacher_student,
    users_system,
)
from query_api.lms_api.routes import dashboard as lms_dashboard
from query_api.lms_reports.jobs import ReportJobs
from query_api.lms_reports.service import report_jobs
from query_api.lms_reports.settings import ReportSettings
from query_api.metrics import QueryMetrics
from query_api.periods import ParameterError
from query_api.settings import QuerySettings
from query_api.store import QueryStore, StoreUnavailable
from query_api.tenants import TenantDirectory
from schemas.envelope import ErrorCode, detail
from security.audit import AuditLog
from security.http import PrincipalDep, authenticate
from security.rate_limit import RateLimiter, RateLimitSettings, raise_if_limited
from security.tokens import AuthSettings, TokenVerifier
from security.web import WebSecuritySettings, install_web_security

RESOURCE_ROUTERS = (
    audit.router,
    events.router,
    performance.router,
    usage.router,
    activities.router,
    dashboard.router,
    config.router,
    privacy.router,
)


LMS_ROUTERS = (
    lms_dashboard.router,
    realtime.router,
    lms_courses.router,
    users_system.users,
    system.system,
    institutes.router,
    teacher_student.teacher,
    teacher_student.student,
    engagement.router,
    custom_dashboards.router,
    custom_metrics.router,
    snapshots.router,
    report_schedules.router,  # before the reports' own: `/schedules` is no `{reportId}`
    reports.router,
    exports.router,
)
"""The learning platform's routes (ADR 0016, 0017): their own envelopes and error documentation."""


QUERY_ERRORS = error_responses(400, 503)
"""What every read route can answer besides its own: a refused parameter or body (400: the query API
answers request validation with 400, also for ``PUT`` bodies) and an unavailable store (503); the
credential's 401/403/429 are added by :mod:`plumbing.openapi` from the routes' dependencies."""


def utc_now() -> datetime:
    return datetime.now(UTC)


async def within_query_rate(request: Request, principal: PrincipalDep) -> None:
    """Every read counts against its credential's and tenant's request rates (429 when over)."""
    limiter: RateLimiter = request.app.state.query_limiter
    raise_if_limited(limiter.check(principal.credential, principal.tenant_id))


def attach_query_api(
    app: FastAPI,
    settings: QuerySettings,
    metrics: QueryMetrics,
    limiter: RateLimiter,
    retention_grace: timedelta,
    store: QueryStore | None = None,
    clock: Callable[[], datetime] = utc_now,
    config_db: ConfigDatabase | None = None,
    report_settings: ReportSettings | None = None,
) -> QueryStore:
    """Mount the read endpoints on ``app`` (their own app, or ``analytics dev``'s) and return the store
    the caller closes on shutdown, with ``app.state.config_db`` (the configuration store, ADR 0017:
    ``config_db`` or one on ``settings.database_url``) and ``app.state.report_jobs`` (whose sweeper the
    caller starts and stops: :meth:`ReportJobs.maintain`, :meth:`ReportJobs.close`). ``limiter``: the
    requests' rate limits (``RateLimitSettings``); ``retention_grace``: how long a retention shortening waits
    (``RetentionScheduleSettings``)."""
    store = store or QueryStore(
        lambda: open_client(settings.clickhouse_url, settings.clickhouse_database),
        metrics,
        settings.query_pool_size,
    )
    app.state.query_settings = settings
    app.state.config_db = config_db or ConfigDatabase(settings.database_url)
    report_settings = report_settings or load_settings(ReportSettings)
    app.state.report_jobs = report_jobs(app.state.config_db, report_settings, clock)
    limit = settings.query_concurrent_reads or default_admission_limit(
        parse_url(settings.clickhouse_url).is_embedded, settings.query_pool_size
    )
    app.state.query_admission = Admission(limit, metrics.admission_wait)
    app.state.query_store = store
    app.state.query_metrics = metrics
    app.state.query_cache = ResultCache(metrics, settings.query_cache_entries, settings.query_cache_ttl_s)
    app.state.query_shared = ResultCache(
        metrics,
        settings.query_cache_entries,
        settings.query_tenant_cache_ttl_s,
        serve_stale_s=settings.query_tenant_cache_stale_s,
    )
    app.state.query_clock = clock
    app.state.query_tenants = TenantDirectory(store, settings)
    app.state.lms_catalog = CatalogDirectory(
        store.tuned(READ_SETTINGS), settings.query_catalog_ttl_s, settings.query_catalog_stale_s
    )
    app.state.query_limiter = limiter
    app.state.query_retention_grace = retention_grace
    app.state.audit = AuditLog(store.execute)
    for router in RESOURCE_ROUTERS:  # every read needs a credential; health and metrics do not
        app.include_router(
            router,
            dependencies=[Depends(authenticate), Depends(within_query_rate)],
            responses=QUERY_ERRORS,
        )

    for router in LMS_ROUTERS:
        app.include_router(router, dependencies=[Depends(authenticate), Depends(within_query_rate)])
    app.include_router(reports.downloads)  # signed links: the link is the credential

    @app.exception_handler(ParameterError)
    async def bad_parameter(request: Request, exc: ParameterError) -> EnvelopeResponse:
        details = [detail(exc.parameter, str(exc), "invalid_parameter")]
        return error_response(request, 400, ErrorCode.VALIDATION_ERROR, str(exc), details)

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable) -> EnvelopeResponse:
        """503 with the cause a client may see (e.g. the embedded store held by another process)."""
        return error_response(
            request,
            503,
            ErrorCode.SERVICE_UNAVAILABLE,
            exc.public_message,
            headers={"Retry-After": str(settings.query_retry_after_s)},
        )

    return store


def create_app(
    settings: QuerySettings | None = None,
    store: QueryStore | None = None,
    clock: Callable[[], datetime] = utc_now,
    verifier: TokenVerifier | None = None,
    limiter: RateLimiter | None = None,
    report_settings: ReportSettings | None = None,
) -> FastAPI:
    """The query API on its own; ``verifier`` defaults to the one ``ANALYTICS_AUTH_*`` configures. Settings
    not passed (nor implied by what is passed) are the process's own
    (:func:`plumbing.settings.load_settings`)."""
    settings = settings or load_settings(QuerySettings)
    verifier = verifier or load_settings(AuthSettings).verifier()
    limiter = limiter or load_settings(RateLimitSettings).query_limiter()
    retention_grace = load_settings(RetentionScheduleSettings).retention_grace
    metrics = QueryMetrics()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        config_db: ConfigDatabase = app.state.config_db
        report_jobs: ReportJobs = app.state.report_jobs
        report_jobs.start_maintenance()
        try:
            yield
        finally:
            await report_jobs.close()
            await app.state.audit.stop()
            await attached.close()
            await config_db.close()

    app = FastAPI(
        title="Analytics query API",
        version="0.1.0",
        lifespan=lifespan,
        default_response_class=EnvelopeResponse,
    )
    app.state.auth_verifier = verifier
    attached = attach_query_api(
        app, settings, metrics, limiter, retention_grace, store, clock, report_settings=report_settings
    )
    app.include_router(health.router)
    install_error_handlers(app, validation_status=400)
    install_web_security(app, settings.query_max_body_bytes, load_settings(WebSecuritySettings))
    app.add_middleware(RequestContextMiddleware, metrics=metrics)  # outermost: every answer has an id
    install_openapi(app, authenticate)
    return app


__all__ = ["attach_query_api", "create_app"]
