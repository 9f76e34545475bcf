"""Errors every HTTP service answers with, mapped onto the seed's error envelope."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException

from plumbing.responses import EnvelopeResponse
from schemas.envelope import Details, ErrorCode, detail, error
from schemas.lms_envelope import AnalyticsErrorCode, analytics_code, details_by_field, is_lms_path, lms_error

log = logging.getLogger(__name__)

_HTTP_CODES = {
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.RATE_LIMITED,
}
_LOCATIONS = frozenset({"query", "path", "header", "cookie", "body"})

ValidationStatus = Callable[[Request], int]


class ApiError(Exception):
    """An error with an HTTP status, an envelope code and optional details (see ``schemas.envelope``)."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        details: Details | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


class AnalyticsError(Exception):
    """An error of the learning platform's API, with one of the seed's analytics codes (ADR 0016);
    ``details`` maps a parameter to its problems."""

    def __init__(
        self,
        status: int,
        code: AnalyticsErrorCode,
        message: str,
        details: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


def error_response(
    request: Request,
    status: int,
    code: ErrorCode,
    message: str,
    details: Details | None = None,
    headers: dict[str, str] | None = None,
) -> EnvelopeResponse:
    """An error in the envelope of the route asked: the second seed's (``schemas.lms_envelope``) under its
    paths, else the product's (``schemas.envelope``)."""
    if is_lms_path(request.url.path):
        body = lms_error(
            status,
            analytics_code(code),
            message,
            str(getattr(request.state, "request_id", "")),
            details_by_field(details),
        )
    else:
        body = error(code, message, details)
    return EnvelopeResponse(body, status_code=status, headers=headers)


def field_of(location: tuple[int | str, ...]) -> str:
    """A pydantic error location as the envelope's ``field``: the parameter or the dotted body path,
    without FastAPI's ``query``/``path``/``body`` prefix (``("query", "page")`` → ``page``)."""
    parts = list(location)
    if len(parts) > 1 and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or "(body)"


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route serves ``path`` with (a path served by several routes, e.g. ``GET`` and
    ``PUT`` of one resource, answers 405 from whichever matched first, naming only its own methods)."""
    methods: set[str] = set()
    for route in iter_route_contexts(app.routes):
        pattern = getattr(route, "path_regex", None)
        if pattern is not None and pattern.match(path):
            methods.update(route.methods or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def install_error_handlers(app: FastAPI, validation_status: int | ValidationStatus = 422) -> None:
    """Every error leaves in the seed's envelope; nothing leaks a stack trace. Request validation
    failures answer ``validation_status`` (the gateway: 422 for bodies; the query API: 400 for
    parameters; ``analytics dev``, serving both: decided per request). The rule is kept on
    ``app.state.validation_status`` so the OpenAPI document states the status really answered."""
    status_of = validation_status if callable(validation_status) else (lambda _: validation_status)
    app.state.validation_status = status_of

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> EnvelopeResponse:
        return error_response(request, exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(AnalyticsError)
    async def analytics_error(request: Request, exc: AnalyticsError) -> EnvelopeResponse:
        request_id = str(getattr(request.state, "request_id", ""))
        body = lms_error(exc.status, exc.code, exc.message, request_id, exc.details)
        return EnvelopeResponse(body, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def request_validation(request: Request, exc: RequestValidationError) -> EnvelopeResponse:
        details = [detail(field_of(tuple(e["loc"])), e["msg"], e["type"]) for e in exc.errors()]
        return error_response(
            request, status_of(request), ErrorCode.VALIDATION_ERROR, "invalid request", details
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> EnvelopeResponse:
        code = _HTTP_CODES.get(
            exc.status_code,
            ErrorCode.INTERNAL_ERROR if exc.status_code >= 500 else ErrorCode.VALIDATION_ERROR,
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of the path, not only those of the first route matched
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        return error_response(request, exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> EnvelopeResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, ErrorCode.INTERNAL_ERROR, "internal error")
