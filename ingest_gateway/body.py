"""Reading a request body safely: its media type, size caps before and after gzip decompression, then
JSON parsing.

Accepted ``Content-Type``: ``application/json`` (any parameters, e.g. ``charset=utf-8``), ``text/plain``
(what ``navigator.sendBeacon`` sends for a string body) and none at all (a ``Blob`` beacon without a
type, minimal clients): the body is JSON in every case. Anything else, e.g.
``application/x-www-form-urlencoded`` (what ``curl -d`` sends by default), answers 415
``UNSUPPORTED_MEDIA_TYPE`` rather than being guessed at.

The decompressed-size cap is enforced while inflating (``max_length``), so a gzip bomb costs at most the
cap in memory, never the bomb's full size.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from starlette.requests import Request

from ingest_gateway.errors import too_large, unsupported_media_type, validation_error
from schemas.envelope import detail
from schemas.json_limits import loads_exact

GZIP_WBITS = 16 + zlib.MAX_WBITS
JSON_MEDIA_TYPES = frozenset({"application/json", "text/plain"})
"""Media types an ingestion body may declare (parameters such as ``charset`` aside); none is accepted too."""


def check_media_type(content_type: str | None) -> None:
    """Raise 415 unless ``content_type`` is absent or one of :data:`JSON_MEDIA_TYPES`."""
    if content_type is None or not content_type.strip():
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in JSON_MEDIA_TYPES:
        raise unsupported_media_type(
            "Content-Type",
            f"Content-Type {media_type!r} is not supported; send application/json "
            "(text/plain is accepted for navigator.sendBeacon)",
        )


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The body, decompressed if ``Content-Encoding: gzip``, at most ``max_bytes`` long (else 413);
    415 for a media type or an encoding it cannot be read as."""
    check_media_type(request.headers.get("content-type"))
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip"):
        raise unsupported_media_type(
            "Content-Encoding", f"Content-Encoding {encoding!r} is not supported; use gzip"
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
        message = f"body is not valid gzip: {exc}"
        raise validation_error(message, [detail("(body)", message, "gzip_invalid")], status=400) from exc
    if not inflater.eof:
        message = "gzip body is truncated"
        raise validation_error(message, [detail("(body)", message, "gzip_invalid")], status=400)
    return b"".join(out)


def parse_json(body: bytes) -> Any:
    """Parse JSON, answering 400 ``VALIDATION_ERROR`` for anything malformed (including absurd nesting)."""
    if not body:
        message = "request body is empty; a JSON object is expected"
        raise validation_error(message, [detail("(body)", message, "missing")], status=400)
    try:
        return loads_exact(body)
    except orjson.JSONDecodeError as exc:
        details = [detail("(body)", str(exc), "json_invalid")]
        raise validation_error("request body is not valid JSON", details, status=400) from exc
