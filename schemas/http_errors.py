"""Errors every HTTP service answers with, mapped onto the seed's error envelope."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from schemas.envelope import EnvelopeResponse, ErrorCode, error

log = logging.getLogger(__name__)

_HTTP_CODES = {
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    429: ErrorCode.RATE_LIMITED,
}


class ApiError(Exception):
    """An error with an HTTP status, an envelope code and optional details."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def install_error_handlers(app: FastAPI, validation_status: int | Callable[[Request], int] = 422) -> None:
    """Every error leaves in the seed's envelope; nothing leaks a stack trace. Request validation
    failures answer ``validation_status`` (the gateway: 422 for bodies; the query API: 400 for
    parameters; ``analytics dev``, serving both: decided per request)."""
    status_of = validation_status if callable(validation_status) else (lambda _: validation_status)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> EnvelopeResponse:
        return EnvelopeResponse(
            error(exc.code, exc.message, exc.details), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def request_validation(request: Request, exc: RequestValidationError) -> EnvelopeResponse:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        return EnvelopeResponse(
            error(ErrorCode.VALIDATION_ERROR, "invalid request", details), status_code=status_of(request)
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
