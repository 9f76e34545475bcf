"""Liveness, readiness (ClickHouse reachable) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from schemas.envelope import EnvelopeResponse

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> EnvelopeResponse:
    """Ready when ClickHouse answers a query."""
    if await request.app.state.query_store.ping():
        return EnvelopeResponse({"status": "ready"})
    return EnvelopeResponse({"status": "not ready", "reason": "ClickHouse unreachable"}, status_code=503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    return Response(generate_latest(request.app.state.query_metrics.registry), media_type=CONTENT_TYPE_LATEST)
