"""The seed's response envelopes.

Success: ``{"success": true, "data": ..., "metadata": {"timestamp", "request_id", "processing_time"}}``
(``processing_time`` in milliseconds). Error: ``{"success": false, "error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from starlette.responses import JSONResponse


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    RATE_LIMITED = "RATE_LIMITED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


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


def error(code: ErrorCode, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code.value, "message": message}
    if details is not None:
        body["details"] = details
    return {"success": False, "error": body}


class EnvelopeResponse(JSONResponse):
    """A JSON response rendered with orjson (fast, and handles datetimes and UUIDs)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
