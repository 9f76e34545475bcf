"""``python -m ingest_gateway``: serve the gateway with uvicorn (graceful shutdown flushes the producer)."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI

from ingest_gateway.main import create_app
from ingest_gateway.settings import GatewaySettings
from schemas.gc_tuning import tune_for_service


def served_app(settings: GatewaySettings | None = None) -> FastAPI:
    """The app as a served process runs it: built, then the collector tuned (``schemas.gc_tuning``)."""
    app = create_app(settings)
    tune_for_service()
    return app


def serve(host: str | None = None, port: int | None = None, workers: int | None = None) -> int:
    """Serve until SIGINT/SIGTERM; shutdown stops accepting, then flushes the producer (see ``lifespan``)."""
    settings = GatewaySettings()
    workers = workers or settings.gateway_workers
    options = {
        "host": host or settings.gateway_host,
        "port": port or settings.gateway_port,
        "log_level": settings.log_level.lower(),
        "timeout_graceful_shutdown": 30,
    }
    if workers > 1:  # each worker process builds its own app (and producer) from the environment
        uvicorn.run("ingest_gateway.__main__:served_app", factory=True, workers=workers, **options)  # type: ignore[arg-type]
    else:
        uvicorn.run(served_app(settings), **options)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(serve())
