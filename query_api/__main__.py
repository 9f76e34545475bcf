"""``python -m query_api``: serve the query API with uvicorn."""

from __future__ import annotations

import sys

import uvicorn

from query_api.main import create_app
from query_api.settings import QuerySettings
from schemas.gc_tuning import tune_for_service


def serve(host: str | None = None, port: int | None = None) -> int:
    settings = QuerySettings()
    app = create_app(settings)
    tune_for_service()
    uvicorn.run(
        app,
        host=host or settings.query_host,
        port=port or settings.query_port,
        log_level=settings.log_level.lower(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(serve())
