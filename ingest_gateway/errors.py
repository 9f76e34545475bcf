"""Errors the gateway answers with, each mapped onto the seed's error envelope."""

from __future__ import annotations

from typing import Any

from schemas.envelope import ErrorCode
from schemas.http_errors import ApiError


def validation_error(message: str, details: Any = None, status: int = 422) -> ApiError:
    return ApiError(status, ErrorCode.VALIDATION_ERROR, message, details)


def too_large(message: str) -> ApiError:
    return ApiError(413, ErrorCode.PAYLOAD_TOO_LARGE, message)


def unavailable(message: str, retry_after_s: int) -> ApiError:
    return ApiError(503, ErrorCode.SERVICE_UNAVAILABLE, message, headers={"Retry-After": str(retry_after_s)})


__all__ = ["ApiError", "too_large", "unavailable", "validation_error"]
