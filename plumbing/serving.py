"""Serving an HTTP service with uvicorn under the bounded shutdown of :mod:`plumbing.shutdown`.

On the first SIGTERM/SIGINT uvicorn stops accepting and lets the requests in flight finish for
:data:`~plumbing.shutdown.GRACE_SHARE` of the deadline, then cancels them: :class:`AnswerWhenCancelled`
answers each 503 ``SERVICE_UNAVAILABLE`` with ``Retry-After`` (so nothing is acknowledged that was not
stored, and clients retry elsewhere or later). Then the app's shutdown runs (flushing producers, closing
stores); the watchdog ends the process if all of it has not finished by the deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import FrameType
from typing import Any

import orjson
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from plumbing.shutdown import GRACE_SHARE, ShutdownWatchdog
from schemas.envelope import ErrorCode, error

STARTUP_FAILURE = 3
"""uvicorn's exit status when the server never started (port taken, app failing at startup)."""
RETRY_AFTER_S = 5
SHUTTING_DOWN = orjson.dumps(
    error(
        ErrorCode.SERVICE_UNAVAILABLE,
        "the service is shutting down and did not finish this request; retry it",
    )
)


class AnswerWhenCancelled:
    """The outermost ASGI layer: a request whose task is cancelled before it answered (uvicorn does that
    to the requests still running when the graceful shutdown's time is up) gets 503 in the error envelope
    with ``Retry-After``, instead of uvicorn's plain-text 500. Nothing is added to requests that answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):  # the answer had begun: the connection just closes
                await send(
                    {
                        "type": "http.response.start",
                        "status": 503,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"retry-after", str(RETRY_AFTER_S).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": SHUTTING_DOWN})
                return  # answered: the task ends here, as its cancellation asked
            raise


class BoundedServer(uvicorn.Server):
    """A uvicorn server whose signal handler arms the watchdog before starting the graceful shutdown."""

    def __init__(self, config: uvicorn.Config, watchdog: ShutdownWatchdog) -> None:
        super().__init__(config)
        self.watchdog = watchdog

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.watchdog.on_signal(sig)
        super().handle_exit(sig, frame)


def uvicorn_options(watchdog: ShutdownWatchdog, **options: Any) -> dict[str, Any]:
    """``options`` with the graceful shutdown of uvicorn bounded by the watchdog's share, and uvicorn's
    logging left to ours (:mod:`plumbing.logs`): no configuration of its own (its records go to the root
    logger's handler) and no access log, which would print the client's address (the access line is
    :class:`plumbing.middleware.RequestContextMiddleware`'s)."""
    return {
        **options,
        "timeout_graceful_shutdown": max(1, round(watchdog.share(GRACE_SHARE))),
        "log_config": None,
        "access_log": False,
    }


def serve_http(app: Any, watchdog: ShutdownWatchdog, **options: Any) -> int:
    """Serve ``app`` in this process until a signal; 0 once it has shut down, or
    :data:`STARTUP_FAILURE` if it never served."""
    config = uvicorn.Config(AnswerWhenCancelled(app), **uvicorn_options(watchdog, **options))
    server = BoundedServer(config, watchdog)
    server.run()
    return 0 if server.started else STARTUP_FAILURE
