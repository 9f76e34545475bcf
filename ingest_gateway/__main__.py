"""``python -m ingest_gateway``: serve the gateway with uvicorn (graceful shutdown flushes the producer)."""

from __future__ import annotations

import sys

import uvicorn

from ingest_gateway.main import create_app
from ingest_gateway.settings import GatewaySettings


def serve(host: str | None = None, port: int | None = None) -> int:
    settings = GatewaySettings()
    uvicorn.run(
        create_app(settings),
        host=host or settings.gateway_host,
        port=port or settings.gateway_port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=30,
    )
    return 0


if __name__ == "__main__":
    sys.exit(serve())
