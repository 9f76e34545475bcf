"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from plumbing.metrics_exposition import exposition
from plumbing.responses import EnvelopeResponse

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> EnvelopeResponse:
    """Ready when the Kafka producer is connected to the brokers."""
    if await request.app.state.sink.ready():
        return EnvelopeResponse({"status": "ready"})
    return EnvelopeResponse(
        {"status": "not ready", "reason": "Kafka producer not connected"}, status_code=503
    )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    return Response(exposition(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
