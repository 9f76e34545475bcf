"""Errors the gateway answers with, each mapped onto the seed's error envelope."""

from __future__ import annotations

from plumbing.http_errors import ApiError
from schemas.envelope import Details, ErrorCode, detail


def validation_error(message: str, details: Details | None = None, status: int = 422) -> ApiError:
    return ApiError(status, ErrorCode.VALIDATION_ERROR, message, details)


def too_large(message: str) -> ApiError:
    return ApiError(413, ErrorCode.PAYLOAD_TOO_LARGE, message)


def unsupported_media_type(header: str, message: str) -> ApiError:
    return ApiError(
        415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, message, [detail(header, message, "unsupported_media_type")]
    )


def unavailable(message: str, retry_after_s: int) -> ApiError:
    return ApiError(503, ErrorCode.SERVICE_UNAVAILABLE, message, headers={"Retry-After": str(retry_after_s)})


__all__ = ["ApiError", "too_large", "unavailable", "unsupported_media_type", "validation_error"]
