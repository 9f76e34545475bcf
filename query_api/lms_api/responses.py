"""How the learning platform API answers: ``TApiSuccessResponse<T>`` rendered by orjson (the seed's models
are dataclasses, serialized natively; decimals as JSON numbers, dates ``YYYY-MM-DD``, times RFC 3339), and
the OpenAPI ``responses=`` of each route: its success model with an example, and the seed's error envelope
for the errors every LMS read may answer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import JSONResponse

from plumbing.http_errors import AnalyticsError
from schemas.lms_envelope import (
    AnalyticsErrorCode,
    Pagination,
    TApiErrorResponse,
    TApiSuccessResponse,
    lms_success,
)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def _decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class LmsResponse(JSONResponse):
    """A seed-003 envelope (or any JSON) rendered by orjson; ``Decimal`` becomes a JSON number."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_decimal, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z)


def answer(request: Request, data: Any, pagination: Pagination | None = None) -> LmsResponse:
    """200 with ``data`` in the success envelope; ``correlationId`` is the request id."""
    return LmsResponse(
        lms_success(data, str(getattr(request.state, "request_id", "")), pagination=pagination)
    )


def pagination(page: int, limit: int, total: int) -> Pagination:
    """The ``pagination`` block of page ``page`` of ``total`` items, ``limit`` a page."""
    return Pagination(page=page, limit=limit, total=total, totalPages=(total + limit - 1) // limit)


def page_of(items: list[Any], page: int, limit: int) -> tuple[list[Any], Pagination]:
    """One page of ``items`` and its ``pagination`` block."""
    start = (page - 1) * limit
    return items[start : start + limit], pagination(page, limit, len(items))


def no_data(subject: str, field: str, reason: str) -> AnalyticsError:
    """404 ``ANALYTICS_DATA_NOT_AVAILABLE``: ``subject`` (``course 12``) has no data in the caller's tenant;
    ``details`` names the parameter ``field`` with ``reason``."""
    return AnalyticsError(
        404,
        AnalyticsErrorCode.ANALYTICS_DATA_NOT_AVAILABLE,
        f"{subject} has no data in this tenant",
        {field: [reason]},
    )


def _error_example(status: int, code: AnalyticsErrorCode, message: str, field: str | None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "message": message,
        "errorCode": code.value,
        "details": {field: [message]} if field else {},
        "correlationId": "req_4f2c1a7e9b3d",
    }


def error_doc(
    status: int, description: str, code: AnalyticsErrorCode, message: str, field: str | None = None
) -> dict[str, Any]:
    """One error of a route's OpenAPI ``responses=``: the seed's envelope with an example."""
    return {
        "description": description,
        "model": TApiErrorResponse,
        "content": {"application/json": {"example": _error_example(status, code, message, field)}},
    }


LMS_ERRORS: dict[int | str, dict[str, Any]] = {
    400: error_doc(
        400,
        "a malformed parameter (ANALYTICS_VALIDATION_ERROR) or an inconsistent date range "
        "(INVALID_DATE_RANGE)",
        AnalyticsErrorCode.INVALID_DATE_RANGE,
        "endDate 2026-01-01 is before startDate 2026-02-01",
        "endDate",
    ),
    401: error_doc(
        401, "no or an invalid credential", AnalyticsErrorCode.UNAUTHORIZED, "missing bearer token"
    ),
    403: error_doc(
        403, "the credential may not read this", AnalyticsErrorCode.FORBIDDEN, "you do not teach this course"
    ),
    404: error_doc(
        404,
        "the course, person or assessment has no data in this tenant",
        AnalyticsErrorCode.ANALYTICS_DATA_NOT_AVAILABLE,
        "course 999 has no data",
    ),
    429: error_doc(429, "over the request rate", AnalyticsErrorCode.RATE_LIMITED, "rate limit exceeded"),
    503: error_doc(
        503, "the store is unavailable", AnalyticsErrorCode.SERVICE_UNAVAILABLE, "ClickHouse is unavailable"
    ),
}
"""The errors of every LMS read (a route adds 422 where it answers ``INSUFFICIENT_DATA``)."""


def errors_of_a_stream() -> dict[int | str, dict[str, Any]]:
    """:data:`LMS_ERRORS` (but 404) for a route whose success is not JSON (an event stream): FastAPI files
    a response ``model`` under the route's own media type, so the error envelope is referenced explicitly
    under ``application/json``, where the errors are answered."""
    out: dict[int | str, dict[str, Any]] = {}
    for status, spec in LMS_ERRORS.items():
        if status == 404:
            continue
        media = dict(spec["content"]["application/json"])
        media["schema"] = {"$ref": "#/components/schemas/TApiErrorResponse"}
        out[status] = {"description": spec["description"], "content": {"application/json": media}}
    return out


def documented(model: Any, example: Any, paginated: bool = False) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a read: the success envelope of ``model`` with ``example`` as its ``data``, and
    :data:`LMS_ERRORS`."""
    body: dict[str, Any] = {
        "statusCode": 200,
        "message": "OK",
        "data": example,
        "correlationId": "req_4f2c1a7e9b3d",
        "timestamp": "2026-03-16T09:30:00.000Z",
    }
    if paginated:
        body["pagination"] = {"page": 1, "limit": DEFAULT_LIMIT, "total": 1, "totalPages": 1}
    rendered = orjson.loads(orjson.dumps(body, default=_decimal, option=orjson.OPT_UTC_Z))
    return {
        200: {"model": TApiSuccessResponse[model], "content": {"application/json": {"example": rendered}}},
        **LMS_ERRORS,
    }
