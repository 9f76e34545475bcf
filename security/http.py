"""Authentication and authorisation for the FastAPI services: one dependency turns the request's
credential into a :class:`Principal`, and :func:`require` turns a policy refusal into 403.

Credentials: ``Authorization: Bearer <JWT>`` everywhere; ``X-API-Key: <ingestion key>`` where the app
has an API-key directory (the gateway). Missing or invalid → 401 ``UNAUTHORIZED`` (with
``WWW-Authenticate``); a valid credential without the right → 403 ``FORBIDDEN``.
"""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from plumbing.http_errors import ApiError
from schemas.envelope import ErrorCode
from security.policy import Action, Decision, decide
from security.principal import Principal, Role
from security.tokens import AuthError, TokenVerifier


class KeyIdentity(Protocol):
    @property
    def key_id(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...


class KeyLookup(Protocol):
    async def authenticate(self, presented: str) -> KeyIdentity | None: ...


def unauthorized(message: str) -> ApiError:
    challenge = 'Bearer error="invalid_token"' if message != "authentication required" else "Bearer"
    return ApiError(401, ErrorCode.UNAUTHORIZED, message, headers={"WWW-Authenticate": challenge})


def forbidden(decision: Decision) -> ApiError:
    return ApiError(403, ErrorCode.FORBIDDEN, decision.reason)


async def authenticate(request: Request) -> Principal:
    """The caller's principal (cached on the request); raises 401."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    principal = await _principal_of(request)
    request.state.principal = principal
    return principal


async def _principal_of(request: Request) -> Principal:
    header = request.headers.get("authorization")
    api_key = request.headers.get("x-api-key")
    keys: KeyLookup | None = getattr(request.app.state, "api_keys", None)
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("expected 'Authorization: Bearer <token>'")
        verifier: TokenVerifier = request.app.state.auth_verifier
        try:
            return await verifier.verify(token.strip())
        except AuthError as exc:
            raise unauthorized(str(exc)) from exc
    if api_key is not None and keys is not None:
        identity = await keys.authenticate(api_key.strip())
        if identity is None:
            raise unauthorized("unknown or revoked API key")
        return Principal(f"key:{identity.key_id}", identity.tenant_id, frozenset(), api_key=True)
    raise unauthorized("authentication required")


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def require(principal: Principal, action: Action, user_id: str | None = None) -> Decision:
    """The decision for ``action`` on ``user_id``'s data; raises 403 when refused."""
    decision = decide(principal, action, user_id)
    if not decision.allowed:
        raise forbidden(decision)
    return decision


def ingest_user(principal: Principal) -> str | None:
    """The user id events of this principal are stamped with: its own for end-user roles, none (the
    body's) for API keys and tenant-wide roles. Raises 403 when it may not ingest at all."""
    if principal.api_key or principal.privileged:
        require(principal, Action.INGEST)
        return None
    require(principal, Action.INGEST, principal.subject)
    return principal.subject


__all__ = ["PrincipalDep", "Role", "authenticate", "ingest_user", "require"]
