"""Dependencies shared by the gateway's routes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from ingest_gateway.body import parse_json, read_body
from ingest_gateway.intake import Intake
from ingest_gateway.settings import GatewaySettings
from plumbing.http_errors import ApiError
from schemas.envelope import ErrorCode
from security.http import PrincipalDep, ingest_user
from security.policy import Action, decide
from security.principal import Principal
from security.rate_limit import RateLimiter, raise_if_limited


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str
    started: float
    tenant_id: str
    """From the credential, never from the body."""
    idempotency_key: str | None
    user_id: str | None = None
    """End users' events are stamped with their own id (see ``security.http.ingest_user``)."""
    charge_events: Callable[[int], None] = lambda _: None
    """Charge the body's events to the event rate limits (raises 429)."""

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)


# Dependencies are coroutines even when they only read app.state: FastAPI runs a plain `def` one in its
# thread pool, a thread hop per dependency per request (tests/unit/test_async_dependencies.py).


async def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


async def get_intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


async def may_ingest(request: Request, principal: PrincipalDep) -> str | None:
    """Router-level: the credential (401, 403) and its request rate (429) are checked before the body is
    read. Returns the user id the principal's events are stamped with (see ``ingest_user``)."""
    user_id = ingest_user(principal)
    limiter: RateLimiter = request.app.state.gateway_limiter
    raise_if_limited(limiter.check(principal.credential, principal.tenant_id))
    return user_id


async def may_ingest_learning(
    principal: PrincipalDep, user_id: Annotated[str | None, Depends(may_ingest)]
) -> None:
    """Router-level for the learning platform's routes: as :func:`may_ingest`, and only for a credential
    the policy lets post events for *any* user of its tenant (an ingestion API key, a service or admin
    token): an LMS event names its person in the body (``user_type`` + ``user_id``), which an end user's
    token could not be checked against, and it is the LMS back end that sends them. 403 otherwise."""
    if user_id is None:
        return
    decision = decide(principal, Action.INGEST)
    if not decision.allowed:
        message = (
            f"{decision.reason}: the learning platform's events are posted by its back end, with an "
            "ingestion API key or a service token, not with an end user's token"
        )
        raise ApiError(403, ErrorCode.FORBIDDEN, message)


def events_quota(limiter: RateLimiter, principal: Principal) -> Callable[[int], None]:
    """Charges a parsed body's events to the credential's and tenant's event rates (429 when over)."""

    def charge(events: int) -> None:
        raise_if_limited(limiter.check(principal.credential, principal.tenant_id, events=events, requests=0))

    return charge


def _context(request: Request, principal: Principal, user_id: str | None) -> RequestContext:
    key = request.headers.get("idempotency-key")
    return RequestContext(
        request_id=request.state.request_id,
        started=request.state.started,
        tenant_id=principal.tenant_id,
        idempotency_key=key[:200] if key else None,
        user_id=user_id,
        charge_events=events_quota(request.app.state.gateway_limiter, principal),
    )


async def get_context(
    request: Request, principal: PrincipalDep, user_id: Annotated[str | None, Depends(may_ingest)]
) -> RequestContext:
    return _context(request, principal, user_id)


async def get_learning_context(
    request: Request, principal: PrincipalDep, _: Annotated[None, Depends(may_ingest_learning)]
) -> RequestContext:
    """The context of an LMS request: never an end user's id (:func:`may_ingest_learning`)."""
    return _context(request, principal, None)


async def get_json_body(request: Request, settings: Annotated[GatewaySettings, Depends(get_settings)]) -> Any:
    return parse_json(await read_body(request, settings.gateway_max_body_bytes))


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
IntakeDep = Annotated[Intake, Depends(get_intake)]
ContextDep = Annotated[RequestContext, Depends(get_context)]
LearningContextDep = Annotated[RequestContext, Depends(get_learning_context)]
JsonBody = Annotated[Any, Depends(get_json_body)]
