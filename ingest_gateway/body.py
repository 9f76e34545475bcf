"""Reading a request body safely: size caps before and after gzip decompression, then JSON parsing.

The decompressed-size cap is enforced while inflating (``max_length``), so a gzip bomb costs at most the
cap in memory, never the bomb's full size.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from starlette.requests import Request

from ingest_gateway.errors import ApiError, too_large, validation_error
from schemas.envelope import ErrorCode

GZIP_WBITS = 16 + zlib.MAX_WBITS


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The body, decompressed if ``Content-Encoding: gzip``, at most ``max_bytes`` long (else 413)."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip"):
        raise ApiError(
            415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, f"Content-Encoding {encoding!r} is not supported; use gzip"
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise too_large(f"request body is {declared} bytes; at most {max_bytes} are accepted")
    if encoding == "identity":
        return await _read_capped(request, max_bytes)
    return await _inflate_capped(request, max_bytes)


async def _read_capped(request: Request, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large(f"request body exceeds {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _inflate_capped(request: Request, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(GZIP_WBITS)
    out: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            data = inflater.decompress(chunk, max_bytes + 1 - size)
            size += len(data)
            if size > max_bytes or inflater.unconsumed_tail:
                raise too_large(f"decompressed body exceeds {max_bytes} bytes")
            out.append(data)
        tail = inflater.flush()
        size += len(tail)
        if size > max_bytes:
            raise too_large(f"decompressed body exceeds {max_bytes} bytes")
        out.append(tail)
    except zlib.error as exc:
        raise validation_error(f"body is not valid gzip: {exc}", status=400) from exc
    if not inflater.eof:
        raise validation_error("gzip body is truncated", status=400)
    return b"".join(out)


def parse_json(body: bytes) -> Any:
    """Parse JSON, answering 400 ``VALIDATION_ERROR`` for anything malformed (including absurd nesting)."""
    if not body:
        raise validation_error("request body is empty; a JSON object is expected", status=400)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise validation_error("request body is not valid JSON", details=str(exc), status=400) from exc
