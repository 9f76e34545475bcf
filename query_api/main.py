"""The query API application."""

from __future__ import annotations

from fastapi import FastAPI

from query_api.api.routes import health
from query_api.settings import QuerySettings


def create_app(settings: QuerySettings | None = None) -> FastAPI:
    settings = settings or QuerySettings()
    app = FastAPI(title="Analytics query API", version="0.1.0")
    app.state.settings = settings
    app.include_router(health.router)
    return app
