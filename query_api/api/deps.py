"""Dependencies shared by the query API's routes: store, cache, clock, caller scope and parameters."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response

from query_api.cache import ResultCache
from query_api.periods import Period, resolve
from query_api.rollup_sql import Scope
from query_api.settings import QuerySettings
from query_api.store import QueryStore
from query_api.tenants import TenantDirectory
from schemas.envelope import success

USER_ID_PATTERN = r"^[^\x00-\x1f\x7f]{1,36}$"
"""What ingestion accepts as ``user_id`` (1–36 characters, no control characters)."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: the tenant every statement is constrained to (from credentials once "Security" lands)."""

    tenant_id: str


def get_settings(request: Request) -> QuerySettings:
    settings: QuerySettings = request.app.state.query_settings
    return settings


def get_store(request: Request) -> QueryStore:
    store: QueryStore = request.app.state.query_store
    return store


def get_cache(request: Request) -> ResultCache:
    cache: ResultCache = request.app.state.query_cache
    return cache


def get_clock(request: Request) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = request.app.state.query_clock
    return clock


def get_tenants(request: Request) -> TenantDirectory:
    tenants: TenantDirectory = request.app.state.query_tenants
    return tenants


def get_caller(settings: Annotated[QuerySettings, Depends(get_settings)]) -> Caller:
    return Caller(settings.default_tenant)


SettingsDep = Annotated[QuerySettings, Depends(get_settings)]
StoreDep = Annotated[QueryStore, Depends(get_store)]
CacheDep = Annotated[ResultCache, Depends(get_cache)]
ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]
CallerDep = Annotated[Caller, Depends(get_caller)]
TenantsDep = Annotated[TenantDirectory, Depends(get_tenants)]
UserId = Annotated[str, Path(description="the user's id (1–36 characters)", pattern=USER_ID_PATTERN)]


def user_scope(caller: Caller, user_id: str) -> Scope:
    return Scope(caller.tenant_id, user_id)


async def period_for(
    tenants: TenantDirectory,
    caller: Caller,
    clock: Callable[[], datetime],
    time_period: str,
    start_date: str | None,
    end_date: str | None,
) -> Period:
    """The period in the caller's tenant zone (the zone its rollups are bucketed in)."""
    zone = await tenants.zone(caller.tenant_id)
    return resolve(time_period, clock(), zone, start_date, end_date)


def envelope(request: Request, data: Any, **extra: Any) -> dict[str, Any]:
    """The seed's success envelope around ``data`` (``extra``: e.g. ``pagination``)."""
    elapsed = int((time.perf_counter() - request.state.started) * 1000)
    body = success(data, request.state.request_id, elapsed)
    body.update(extra)
    return body


def cache_control(response: Response, cache: ResultCache) -> None:
    """Dashboard-class answers may be reused by the client for as long as the server reuses them."""
    response.headers["Cache-Control"] = f"private, max-age={int(cache.ttl_s)}"
