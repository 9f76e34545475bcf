"""Liveness, readiness (ClickHouse reachable) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from plumbing.metrics_exposition import exposition
from plumbing.responses import EnvelopeResponse
from query_api.store import UNAVAILABLE_MESSAGE, QueryStore, StoreUnavailable

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> EnvelopeResponse:
    """Ready when ClickHouse answers a query; else 503 whose ``reason`` is what the read routes answer
    (``StoreUnavailable.public_message``: e.g. the embedded store held by another process), so a probe
    tells the operator what to fix."""
    store: QueryStore = request.app.state.query_store
    try:
        rows = await store.rows("SELECT 1")
    except StoreUnavailable as exc:
        return _not_ready(exc.public_message)
    except Exception:  # readiness: any other failure means not ready too
        return _not_ready(UNAVAILABLE_MESSAGE)
    if rows and rows[0][0] == 1:
        return EnvelopeResponse({"status": "ready"})
    return _not_ready(UNAVAILABLE_MESSAGE)


def _not_ready(reason: str) -> EnvelopeResponse:
    return EnvelopeResponse({"status": "not ready", "reason": reason}, status_code=503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    return Response(exposition(request.app.state.query_metrics.registry), media_type=CONTENT_TYPE_LATEST)
