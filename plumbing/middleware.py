"""Request ids, HTTP metrics and the access log line, as a plain ASGI middleware (no per-request task or
body buffering)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Protocol

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plumbing.logs import ACCESS_LOGGER, request_context

access_log = logging.getLogger(ACCESS_LOGGER)
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id_from(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is a sane token, else a fresh ``req_<hex>``."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if _ACCEPTABLE_ID.match(text):
                return text
            break
    return f"req_{uuid.uuid4().hex}"


class HttpMetrics(Protocol):
    """What the middleware records; the gateway's and the query API's metrics both provide it."""

    requests: Counter
    request_latency: Histogram
    in_flight: Gauge


class RequestContextMiddleware:
    """Request id in (``X-Request-ID`` honoured) and out; request count, latency and in-flight by route.

    While the request is served its id is bound to the logging context
    (:func:`plumbing.logs.request_context`), so every log line of the request carries ``request_id``; when
    it ends, one access line (logger ``plumbing.access``: method, route template, status, duration in ms)
    is logged, never with the client's address or the path as sent (it may hold a user id: the route's
    template is logged instead)."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        scope["state"]["started"] = started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        self.metrics.in_flight.inc()
        with request_context(request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                self.metrics.in_flight.dec()
                route = scope.get("route")
                label = getattr(route, "path", "unmatched")
                elapsed = time.perf_counter() - started
                self.metrics.requests.labels(label, str(status)).inc()
                self.metrics.request_latency.labels(label).observe(elapsed)
                _log_access(scope.get("method", ""), label, status, elapsed)


def _log_access(method: str, route: str, status: int, elapsed_s: float) -> None:
    level = logging.WARNING if status >= 500 else logging.INFO
    if access_log.isEnabledFor(level):
        duration_ms = round(elapsed_s * 1000, 1)
        access_log.log(
            level,
            "%s %s %d %.1f ms",
            method,
            route,
            status,
            duration_ms,
            extra={"method": method, "route": route, "status": status, "duration_ms": duration_ms},
        )
