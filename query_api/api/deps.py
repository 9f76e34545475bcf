"""Dependencies shared by the query API's routes: store, cache, clock, caller scope and parameters."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response

from query_api.admission import Admission
from query_api.api.params import EndDay, StartDay
from query_api.cache import ResultCache
from query_api.periods import MAX_CUSTOM_DAYS, Period, TimePeriod, resolve
from query_api.rollup_sql import Scope
from query_api.settings import QuerySettings
from query_api.store import QueryStore
from query_api.tenants import TenantDirectory
from schemas.envelope import success
from schemas.payloads import ID_CLASS
from security.audit import AuditEntry, AuditLog, Outcome
from security.http import PrincipalDep, forbidden
from security.policy import Action, decide
from security.principal import Principal

USER_ID_PATTERN = f"^{ID_CLASS}{{1,36}}$"
"""What ingestion accepts as ``user_id`` (1–36 characters, no control characters)."""


ALWAYS_AUDITED = frozenset({Action.READ_TENANT, Action.WRITE_TENANT_SETTINGS})
"""Tenant-wide reads and settings changes (IP handling, retention: a shorter one schedules a deletion)."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks, from the verified credential: every statement is constrained to its tenant, and every
    per-user read goes through :func:`user_scope`, which applies the role rules."""

    principal: Principal
    request_id: str = ""
    resource: str = ""
    audit: AuditLog | None = None

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id

    def may(self, action: Action, user_id: str | None = None) -> None:
        """Raise 403 unless the role rules allow ``action`` on ``user_id``'s data. Reads of other users'
        data (and tenant-wide reads) and every refusal are written to the audit log."""
        decision = decide(self.principal, action, user_id)
        if self.audit is not None and (
            decision.other_user or action in ALWAYS_AUDITED or not decision.allowed
        ):
            outcome = Outcome.ALLOWED if decision.allowed else Outcome.DENIED
            detail = "" if decision.allowed else decision.reason
            self.audit.record(
                AuditEntry.of(
                    self.principal, action.value, user_id, self.resource, self.request_id, outcome, detail
                )
            )
        if not decision.allowed:
            raise forbidden(decision)


# Dependencies are coroutines even when they only read app.state: FastAPI runs a plain `def` one in its
# thread pool, a thread hop per dependency per request (tests/unit/test_async_dependencies.py).


async def get_settings(request: Request) -> QuerySettings:
    settings: QuerySettings = request.app.state.query_settings
    return settings


async def get_store(request: Request) -> QueryStore:
    store: QueryStore = request.app.state.query_store
    return store


async def get_cache(request: Request) -> ResultCache:
    cache: ResultCache = request.app.state.query_cache
    return cache


async def get_shared(request: Request) -> ResultCache:
    shared: ResultCache = request.app.state.query_shared
    return shared


async def get_admission(request: Request) -> Admission:
    admission: Admission = request.app.state.query_admission
    return admission


async def get_clock(request: Request) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = request.app.state.query_clock
    return clock


async def get_tenants(request: Request) -> TenantDirectory:
    tenants: TenantDirectory = request.app.state.query_tenants
    return tenants


async def get_caller(request: Request, principal: PrincipalDep) -> Caller:
    audit: AuditLog | None = getattr(request.app.state, "audit", None)
    return Caller(principal, getattr(request.state, "request_id", ""), request.url.path, audit)


SettingsDep = Annotated[QuerySettings, Depends(get_settings)]
StoreDep = Annotated[QueryStore, Depends(get_store)]
CacheDep = Annotated[ResultCache, Depends(get_cache)]
SharedDep = Annotated[ResultCache, Depends(get_shared)]
AdmissionDep = Annotated[Admission, Depends(get_admission)]
ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]
CallerDep = Annotated[Caller, Depends(get_caller)]
TenantsDep = Annotated[TenantDirectory, Depends(get_tenants)]
UserId = Annotated[str, Path(description="the user's id (1–36 characters)", pattern=USER_ID_PATTERN)]


def user_scope(caller: Caller, user_id: str) -> Scope:
    """The scope of a read of ``user_id``'s data: the caller's tenant, if the caller may read that user."""
    caller.may(Action.READ_USER, user_id)
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


def period_param(default: TimePeriod) -> Callable[..., Awaitable[Period]]:
    """A dependency resolving ``time_period`` (default ``default``), ``start_date`` and ``end_date``."""

    async def period(
        tenants: TenantsDep,
        caller: CallerDep,
        clock: ClockDep,
        time_period: Annotated[
            TimePeriod,
            Query(
                description="the period; `custom` takes `start_date` and `end_date` "
                f"(at most {MAX_CUSTOM_DAYS} days)"
            ),
        ] = default,
        start_date: StartDay = None,
        end_date: EndDay = None,
    ) -> Period:
        return await period_for(tenants, caller, clock, time_period.value, start_date, end_date)

    return period


Last24Hours = Annotated[Period, Depends(period_param(TimePeriod.LAST_24_HOURS))]
Last7Days = Annotated[Period, Depends(period_param(TimePeriod.LAST_7_DAYS))]
Last30Days = Annotated[Period, Depends(period_param(TimePeriod.LAST_30_DAYS))]


@dataclass(frozen=True)
class UserRead:
    """What a read of one user's data needs: the scope (caller's tenant, the path's user), the store, the
    result cache and the clock."""

    scope: Scope
    store: QueryStore
    cache: ResultCache
    shared: ResultCache
    """Tenant-wide aggregates, kept longer and shared by every user of the tenant."""
    clock: Callable[[], datetime]
    response: Response
    admission: Admission

    async def cached(self, key: tuple[Any, ...], compute: Callable[[], Awaitable[Any]]) -> Any:
        """A dashboard-class result, reused for the cache's TTL; the client may reuse it as long. A miss is
        computed once admitted (:mod:`query_api.admission`)."""
        self.response.headers["Cache-Control"] = f"private, max-age={int(self.cache.ttl_s)}"
        return await self.cache.get_or_compute((*key, self.scope), lambda: self.admission.run(compute))


async def get_user_read(
    user_id: UserId,
    store: StoreDep,
    cache: CacheDep,
    shared: SharedDep,
    caller: CallerDep,
    clock: ClockDep,
    response: Response,
    admission: AdmissionDep,
) -> UserRead:
    return UserRead(user_scope(caller, user_id), store, cache, shared, clock, response, admission)


UserReadDep = Annotated[UserRead, Depends(get_user_read)]
