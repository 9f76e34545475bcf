"""Dependencies shared by the gateway's routes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from ingest_gateway.body import parse_json, read_body
from ingest_gateway.intake import Intake
from ingest_gateway.settings import GatewaySettings
from schemas.security.http import PrincipalDep, ingest_user


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str
    started: float
    tenant_id: str
    """From the credential, never from the body."""
    idempotency_key: str | None
    user_id: str | None = None
    """End users' events are stamped with their own id (see ``schemas.security.http.ingest_user``)."""

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)


def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def get_intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


async def may_ingest(principal: PrincipalDep) -> None:
    """Router-level: the credential is checked (401, 403) before the body is read."""
    ingest_user(principal)


def get_context(request: Request, principal: PrincipalDep) -> RequestContext:
    key = request.headers.get("idempotency-key")
    user_id = ingest_user(principal)
    return RequestContext(
        request_id=request.state.request_id,
        started=request.state.started,
        tenant_id=principal.tenant_id,
        idempotency_key=key[:200] if key else None,
        user_id=user_id,
    )


async def get_json_body(request: Request, settings: Annotated[GatewaySettings, Depends(get_settings)]) -> Any:
    return parse_json(await read_body(request, settings.gateway_max_body_bytes))


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
IntakeDep = Annotated[Intake, Depends(get_intake)]
ContextDep = Annotated[RequestContext, Depends(get_context)]
JsonBody = Annotated[Any, Depends(get_json_body)]
