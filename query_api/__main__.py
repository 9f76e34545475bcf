"""``python -m query_api``: serve the query API with uvicorn, under the bounded shutdown of
:mod:`plumbing.shutdown` (requests still waiting for ClickHouse at the deadline get no answer)."""

from __future__ import annotations

import sys

from plumbing.gc_tuning import tune_for_service
from plumbing.logs import configure_logging
from plumbing.serving import serve_http
from plumbing.settings import load_settings
from plumbing.shutdown import ShutdownSettings, ShutdownWatchdog
from query_api.main import create_app
from query_api.settings import QuerySettings


def serve(host: str | None = None, port: int | None = None) -> int:
    settings = load_settings(QuerySettings)
    app = create_app(settings)
    tune_for_service()
    return serve_http(
        app,
        ShutdownWatchdog.from_settings(
            load_settings(ShutdownSettings),
            "query API",
            "requests still waiting for ClickHouse (not answered)",
        ),
        host=host or settings.query_host,
        port=port or settings.query_port,
        log_level=settings.log_level.lower(),
    )


if __name__ == "__main__":
    _settings = load_settings(QuerySettings)
    configure_logging(_settings.log_level, _settings.log_format)
    sys.exit(serve())
