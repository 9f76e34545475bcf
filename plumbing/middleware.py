"""Request ids and HTTP metrics, as a plain ASGI middleware (no per-request task or body buffering)."""

from __future__ import annotations

import re
import time
import uuid
from typing import Protocol

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    """Request id in (``X-Request-ID`` honoured) and out; request count, latency and in-flight by route."""

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
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.metrics.in_flight.dec()
            route = scope.get("route")
            label = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(label, str(status)).inc()
            self.metrics.request_latency.labels(label).observe(time.perf_counter() - started)
