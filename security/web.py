"""Browser-facing protections every service installs: a CORS allow-list, security headers on every answer,
and a request body limit answering 413 ``PAYLOAD_TOO_LARGE`` in the envelope of the route asked (FastAPI's
own ``max_body_size`` answers plain text, which clients of the envelope cannot parse). Services install these
inside their request-context middleware, so an early refusal carries the request id too.

The APIs answer JSON only, so the strictest content policy applies to them; the OpenAPI pages (``/docs``,
``/redoc``) load Swagger UI and ReDoc from a CDN and keep the browser's defaults.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from pydantic_settings import BaseSettings
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plumbing.http_errors import ApiError, error_response
from plumbing.settings import ENV_CONFIG
from schemas.envelope import ErrorCode

DOC_PATHS = ("/docs", "/redoc")
API_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-site",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"


class WebSecuritySettings(BaseSettings):
    """What :func:`install_web_security` lets browsers do (``ANALYTICS_CORS_*``, ``ANALYTICS_HSTS_*``)."""

    model_config = ENV_CONFIG

    cors_allow_origins: list[str] = []
    """Origins browsers may call the APIs from, e.g. ``["https://app.example.com"]``; empty: none."""
    hsts_max_age_s: int = 0
    """``Strict-Transport-Security`` max-age when the services are reached over HTTPS (0: not sent)."""


class SecurityHeaders:
    """Adds the headers to every response (a plain ASGI middleware: no per-request task or body copy)."""

    def __init__(self, app: ASGIApp, hsts_max_age_s: int = 0) -> None:
        self.app = app
        self.headers = dict(API_HEADERS)
        if hsts_max_age_s > 0:
            self.headers["strict-transport-security"] = f"max-age={hsts_max_age_s}; includeSubDomains"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = str(scope.get("path", "")).startswith(DOC_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                if not docs:
                    headers.setdefault("content-security-policy", API_CSP)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuses bodies over ``max_bytes``: at once when ``Content-Length`` says so, else while the body is
    read (the error then surfaces in the route and leaves through the envelope's exception handlers)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> ApiError:
        return ApiError(413, ErrorCode.PAYLOAD_TOO_LARGE, f"request body exceeds {self.max_bytes} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            error = self._too_large()
            response = error_response(Request(scope), 413, error.code, error.message)
            await response(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # FastAPI passes HTTPException on from body parsing
                    raise HTTPException(413, self._too_large().message)
            return message

        await self.app(scope, counting_receive, send)


def install_web_security(app: FastAPI, max_body_bytes: int, settings: WebSecuritySettings) -> None:
    """Body limit, CORS (only for ``settings``' origins) and security headers on ``app``."""
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(SecurityHeaders, hsts_max_age_s=settings.hsts_max_age_s)
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=[
                "authorization",
                "content-type",
                "content-encoding",
                "idempotency-key",
                "x-request-id",  # no x-api-key: ingestion keys are for servers, browsers send user tokens
            ],
            expose_headers=[
                "x-request-id",
                "retry-after",
                "x-ratelimit-limit",
                "x-ratelimit-remaining",
                "x-ratelimit-reset",
            ],
            max_age=600,
        )
