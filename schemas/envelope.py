"""The seed's response envelopes.

Success: ``{"success": true, "data": ..., "metadata": {"timestamp", "request_id", "processing_time"}}``
(``processing_time`` in milliseconds). Error: ``{"success": false, "error": {"code", "message", "details"}}``
where ``details`` is always a list (empty when there is nothing to point at) of
``{"field", "reason", "type"[, "index"]}`` objects: one shape for every error of every service, so a client
reads per-field problems, batch items and refused parameters the same way (:class:`ErrorEnvelope` is the
documented model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    TIMESTAMP_OUT_OF_RANGE = "TIMESTAMP_OUT_OF_RANGE"
    """422: an event's time or date is outside the supported range (``schemas.event_time``)."""
    BEYOND_RETENTION = "BEYOND_RETENTION"
    """422: an event is older than its tenant's raw retention (it would be deleted, so it is refused)."""
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    RATE_LIMITED = "RATE_LIMITED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


Details = Sequence[Mapping[str, Any]]
"""What error builders pass as ``details``: objects shaped like :class:`ErrorDetail` (a string or a lone
object is refused by the type checker, so the one shape holds everywhere)."""


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def success(data: Any, request_id: str, processing_time_ms: int) -> dict[str, Any]:
    return {
        "success": True,
        "data": data,
        "metadata": {
            "timestamp": utc_now_iso(),
            "request_id": request_id,
            "processing_time": processing_time_ms,
        },
    }


def detail(field: str, reason: str, kind: str, index: int | None = None) -> dict[str, Any]:
    """One :class:`ErrorDetail`: ``field`` names what is wrong, ``kind`` is its machine-readable type."""
    entry: dict[str, Any] = {"field": field, "reason": reason, "type": kind}
    if index is not None:
        entry["index"] = index
    return entry


def error(code: ErrorCode, message: str, details: Details | None = None) -> dict[str, Any]:
    """The error envelope; ``details`` is always present, ``[]`` when there is nothing to point at."""
    return {
        "success": False,
        "error": {"code": code.value, "message": message, "details": list(details or ())},
    }


class ErrorDetail(BaseModel):
    """One problem of a refused request."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(
        description="what is wrong: a body field as a dotted path (`events.3.timestamp`), a query or path "
        "parameter (`page`), a header (`Content-Type`), `(body)` for the body as a whole, or the limit "
        "exceeded (`requests`, `events`)"
    )
    reason: str = Field(description="human-readable explanation")
    type: str = Field(description="machine-readable kind, e.g. `missing`, `string_too_long`, `rate_limited`")
    index: int | None = Field(
        default=None, description="position of the item in a batch (`events[index]`); absent otherwise"
    )


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ErrorCode
    message: str
    details: list[ErrorDetail] = Field(
        description="every problem found, one object each; `[]` when there is nothing more specific to say"
    )


class ErrorEnvelope(BaseModel):
    """What every error answer of every service carries."""

    model_config = ConfigDict(extra="forbid")

    success: Literal[False]
    error: ErrorBody
