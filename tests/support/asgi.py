"""An app served in process for HTTP tests: its lifespan running, a client calling it through ASGI (no
socket, no server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI


@asynccontextmanager
async def served(
    app: FastAPI, base_url: str, headers: dict[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` (sending ``headers`` with every request) while the app's lifespan runs: what
    it starts (producers, refreshers, writers) is up for the requests and stopped after the client."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, headers=headers) as http,
    ):
        yield http
