"""The learning platform API's envelopes (``../shared/seeds/003_*`` §5, ADR 0016): ``TApiSuccessResponse<T>``
and ``TApiErrorResponse`` on every route under :data:`LMS_PATH_PREFIXES`, while the product-analytics routes
keep the envelope of :mod:`schemas.envelope`.

Error (the seed's example, field for field)::

    {"statusCode": 400, "message": "Analytics query validation failed",
     "errorCode": "ANALYTICS_VALIDATION_ERROR",
     "details": {"dateRange": ["End date must be after start date"]}, "correlationId": "req_..."}

Success (the seed names the type only; it mirrors the error so a client reads ``statusCode`` and
``correlationId`` the same way)::

    {"statusCode": 200, "message": "OK", "data": ..., "correlationId": "req_...",
     "timestamp": "2026-03-01T12:00:00.000Z", "pagination": {...}}

``pagination`` is present on list answers that can grow (``page``, ``limit``, ``total``, ``totalPages``).
``correlationId`` is the request id (also the ``X-Request-ID`` response header).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from schemas.envelope import Details, ErrorCode, utc_now_iso

T = TypeVar("T")

LMS_PATH_PREFIXES = ("/api/admin/", "/api/teacher/", "/api/student/")
"""The routes of the second seed. ``/api/learning/...`` is our own intake (ADR 0015) and answers in the
intake's envelope, as the product's intake does."""


def is_lms_path(path: str) -> bool:
    """Whether ``path`` is a route of the second seed (answered in this module's envelopes)."""
    return path.startswith(LMS_PATH_PREFIXES)


class AnalyticsErrorCode(StrEnum):
    """The seed's analytics error codes, and the codes of the errors every route may answer."""

    ANALYTICS_VALIDATION_ERROR = "ANALYTICS_VALIDATION_ERROR"
    """400: a parameter or body is malformed or inconsistent."""
    INVALID_DATE_RANGE = "INVALID_DATE_RANGE"
    """400: a date range ends before it starts, is longer than allowed, or lies beyond what is kept."""
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
    """422: too little data for the figure asked (e.g. a comparison of fewer than two courses with data)."""
    ANALYTICS_DATA_NOT_AVAILABLE = "ANALYTICS_DATA_NOT_AVAILABLE"
    """404: the entity asked about has no data in this tenant (unknown course, institute, person)."""
    CALCULATION_ERROR = "CALCULATION_ERROR"
    REPORT_GENERATION_FAILED = "REPORT_GENERATION_FAILED"
    EXPORT_FAILED = "EXPORT_FAILED"
    METRIC_NOT_FOUND = "METRIC_NOT_FOUND"
    DASHBOARD_CONFIG_ERROR = "DASHBOARD_CONFIG_ERROR"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    """409: the write breaks a unique rule (e.g. a second dashboard of the same name)."""
    PRECONDITION_FAILED = "PRECONDITION_FAILED"
    """412: the row changed since the version named by ``If-Match`` (or read by a concurrent writer)."""
    GONE = "GONE"
    """410: a download link or the file it named has expired."""
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    RATE_LIMITED = "RATE_LIMITED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


_FROM_PRODUCT = {ErrorCode.VALIDATION_ERROR: AnalyticsErrorCode.ANALYTICS_VALIDATION_ERROR}
"""Product codes whose analytics name differs; the rest share their names."""


def analytics_code(code: ErrorCode) -> AnalyticsErrorCode:
    """The analytics code of an error raised by the shared layers (authentication, limits, validation)."""
    mapped = _FROM_PRODUCT.get(code)
    if mapped is not None:
        return mapped
    try:
        return AnalyticsErrorCode(code.value)
    except ValueError:  # intake-only codes (event times, retention) never reach these routes
        return AnalyticsErrorCode.ANALYTICS_VALIDATION_ERROR


class Pagination(BaseModel):
    page: int = Field(ge=1, description="this page, from 1")
    limit: int = Field(ge=1, description="items per page")
    total: int = Field(ge=0, description="items on every page")
    totalPages: int = Field(ge=0)


class TApiSuccessResponse(BaseModel, Generic[T]):
    """The seed's success envelope."""

    statusCode: int = 200
    message: str = "OK"
    data: T
    correlationId: str = Field(description="the request id (also the X-Request-ID header)")
    timestamp: str = Field(description="when the answer was made, UTC (ISO 8601, milliseconds)")
    pagination: Pagination | None = Field(
        default=None, description="on lists that can grow: the page of `data` and how many there are"
    )


class TApiErrorResponse(BaseModel):
    """The seed's error envelope: ``details`` maps a parameter or field to its problems."""

    statusCode: int
    message: str
    errorCode: AnalyticsErrorCode
    details: dict[str, list[str]] = Field(default_factory=dict)
    correlationId: str


def lms_success(
    data: Any,
    correlation_id: str,
    *,
    status: int = 200,
    message: str = "OK",
    pagination: Pagination | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "statusCode": status,
        "message": message,
        "data": data,
        "correlationId": correlation_id,
        "timestamp": utc_now_iso(),
    }
    if pagination is not None:
        body["pagination"] = pagination.model_dump()
    return body


def lms_error(
    status: int,
    code: AnalyticsErrorCode,
    message: str,
    correlation_id: str,
    details: Mapping[str, list[str]] | None = None,
) -> dict[str, Any]:
    return {
        "statusCode": status,
        "message": message,
        "errorCode": code.value,
        "details": dict(details or {}),
        "correlationId": correlation_id,
    }


def details_by_field(details: Details | None) -> dict[str, list[str]]:
    """The product envelope's detail list (``{"field", "reason", ...}``) as the seed's field → messages."""
    grouped: dict[str, list[str]] = {}
    for item in details or ():
        grouped.setdefault(str(item.get("field", "(request)")), []).append(str(item.get("reason", "")))
    return grouped
