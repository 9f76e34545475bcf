"""``python -m ingest_gateway``: serve the gateway with uvicorn, under the bounded shutdown of
:mod:`plumbing.shutdown` (stop accepting, answer what is in flight, flush the producer, exit by the
deadline)."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI

from ingest_gateway.main import create_app
from ingest_gateway.settings import GatewaySettings
from plumbing.gc_tuning import tune_for_service
from plumbing.logs import configure_logging
from plumbing.metrics_exposition import multiprocess_directory
from plumbing.serving import AnswerWhenCancelled, serve_http, uvicorn_options
from plumbing.settings import load_settings
from plumbing.shutdown import ShutdownSettings, ShutdownWatchdog

ABANDONS = "requests still waiting for Kafka (not answered, so not acknowledged: clients retry)"


def _watchdog() -> ShutdownWatchdog:
    return ShutdownWatchdog.from_settings(load_settings(ShutdownSettings), "gateway", ABANDONS)


def served_app(settings: GatewaySettings) -> FastAPI:
    """The app as a served process runs it: built, then the collector tuned (``plumbing.gc_tuning``)."""
    app = create_app(settings)
    tune_for_service()
    return app


def worker_process_app() -> AnswerWhenCancelled:
    """The app of one of ``--workers N`` processes, from that process's own settings. uvicorn builds it
    once its signal handlers are in place, so the watchdog goes in front of them here. The process is a
    new interpreter: its logging is set up here, before uvicorn logs its first line."""
    settings = load_settings(GatewaySettings)
    configure_logging(settings.log_level, settings.log_format)
    _watchdog().chain_signals()
    return AnswerWhenCancelled(served_app(settings))


def serve(host: str | None = None, port: int | None = None, workers: int | None = None) -> int:
    """Serve until SIGINT/SIGTERM; shutdown stops accepting, answers or drops what is in flight, then
    flushes the producer (see ``lifespan``), all within ``ANALYTICS_SHUTDOWN_TIMEOUT_S``."""
    settings = load_settings(GatewaySettings)
    workers = workers or settings.gateway_workers
    watchdog = _watchdog()
    options = {
        "host": host or settings.gateway_host,
        "port": port or settings.gateway_port,
        "log_level": settings.log_level.lower(),
    }
    if workers > 1:  # each worker process builds its own app (and producer) from the environment
        with multiprocess_directory():  # one scrape answers for every worker process
            uvicorn.run(
                "ingest_gateway.__main__:worker_process_app",
                factory=True,
                workers=workers,
                **uvicorn_options(watchdog, **options),
            )
        return 0
    return serve_http(served_app(settings), watchdog, **options)


if __name__ == "__main__":
    _settings = load_settings(GatewaySettings)
    configure_logging(_settings.log_level, _settings.log_format)
    sys.exit(serve())
