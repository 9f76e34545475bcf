"""The seed's ingestion endpoints. Bodies are read and validated by the intake pipeline (not by FastAPI),
so size caps, gzip and per-item batch errors apply; the OpenAPI schema still documents each body and each
answer (:mod:`ingest_gateway.answers`: the routes return ready responses, so the models only document)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from ingest_gateway.answers import BatchAcceptedAnswer, EventAcceptedAnswer
from ingest_gateway.api.deps import ContextDep, IntakeDep, JsonBody, RequestContext, may_ingest
from ingest_gateway.intake import Intake, SingleResult
from plumbing.responses import EnvelopeResponse
from schemas.envelope import success
from schemas.payloads import (
    ActivityLogCreate,
    AnalyticsEventBatchCreate,
    AnalyticsEventCreate,
    PerformanceMetricCreate,
    UsageMetricCreate,
)
from schemas.topics import Stream

router = APIRouter(prefix="/analytics", tags=["ingestion"], dependencies=[Depends(may_ingest)])

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "malformed JSON or gzip (VALIDATION_ERROR)"},
    401: {"description": "no valid bearer token or API key (UNAUTHORIZED)"},
    403: {"description": "the credential may not post events (FORBIDDEN)"},
    413: {"description": "body or batch too large (PAYLOAD_TOO_LARGE)"},
    415: {"description": "unsupported Content-Type or Content-Encoding (UNSUPPORTED_MEDIA_TYPE)"},
    429: {"description": "over the credential's or tenant's rate (RATE_LIMITED, Retry-After)"},
    422: {
        "description": "refused, every failing field listed: schema errors (VALIDATION_ERROR); a time "
        "outside the supported range (TIMESTAMP_OUT_OF_RANGE) or older than the tenant's raw retention "
        "(BEYOND_RETENTION) when that is the only problem"
    },
    503: {"description": "Kafka unavailable; nothing accepted (SERVICE_UNAVAILABLE, Retry-After)"},
}


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": model.model_json_schema(ref_template="#/components/schemas/{model}")
                }
            },
        }
    }


def _single(context: RequestContext, result: SingleResult) -> EnvelopeResponse:
    data = {"event_id": result.event_id, "warnings": result.warnings}
    return EnvelopeResponse(success(data, context.request_id, context.elapsed_ms()))


async def accept_one(stream: Stream, body: Any, intake: Intake, context: RequestContext) -> EnvelopeResponse:
    """A single-item route's work: charge one event, run the intake, answer."""
    context.charge_events(1)
    result = await intake.accept_single(
        stream, body, context.tenant_id, context.idempotency_key, context.user_id
    )
    return _single(context, result)


async def accept_batch(
    stream: Stream, body: Any, intake: Intake, context: RequestContext
) -> EnvelopeResponse:
    """A batch route's work: charge the body's events, run the intake, answer with the accepted ids and
    each refused item's errors by index."""
    items = body.get("events") if isinstance(body, dict) else None
    context.charge_events(len(items) if isinstance(items, list) else 1)
    result = await intake.accept_batch(
        stream, body, context.tenant_id, context.idempotency_key, context.user_id
    )
    data = {
        "processed_count": len(result.accepted_ids),
        "failed_count": len({entry["index"] for entry in result.rejected}),
        "event_ids": result.accepted_ids,
        "errors": result.rejected,
        "warnings": result.warnings,
    }
    return EnvelopeResponse(success(data, context.request_id, context.elapsed_ms()))


@router.post(
    "/events",
    response_model=EventAcceptedAnswer,
    responses=ERROR_RESPONSES,
    openapi_extra=body_schema(AnalyticsEventCreate),
)
async def track_event(body: JsonBody, intake: IntakeDep, context: ContextDep) -> EnvelopeResponse:
    """Track one analytics event."""
    return await accept_one(Stream.EVENTS, body, intake, context)


@router.post(
    "/events/batch",
    response_model=BatchAcceptedAnswer,
    responses=ERROR_RESPONSES,
    openapi_extra=body_schema(AnalyticsEventBatchCreate),
)
async def track_events_batch(body: JsonBody, intake: IntakeDep, context: ContextDep) -> EnvelopeResponse:
    """Track up to 1,000 events; valid ones are accepted, invalid ones reported by index."""
    return await accept_batch(Stream.EVENTS, body, intake, context)


@router.post(
    "/performance",
    response_model=EventAcceptedAnswer,
    responses=ERROR_RESPONSES,
    openapi_extra=body_schema(PerformanceMetricCreate),
)
async def submit_performance(body: JsonBody, intake: IntakeDep, context: ContextDep) -> EnvelopeResponse:
    """Submit one page load's performance metrics (web vitals)."""
    return await accept_one(Stream.PERFORMANCE, body, intake, context)


@router.post(
    "/usage",
    response_model=EventAcceptedAnswer,
    responses=ERROR_RESPONSES,
    openapi_extra=body_schema(UsageMetricCreate),
)
async def submit_usage(body: JsonBody, intake: IntakeDep, context: ContextDep) -> EnvelopeResponse:
    """Submit a user's usage summary for one day."""
    return await accept_one(Stream.USAGE, body, intake, context)


@router.post(
    "/activities",
    response_model=EventAcceptedAnswer,
    responses=ERROR_RESPONSES,
    openapi_extra=body_schema(ActivityLogCreate),
)
async def log_activity(body: JsonBody, intake: IntakeDep, context: ContextDep) -> EnvelopeResponse:
    """Log one activity."""
    return await accept_one(Stream.ACTIVITIES, body, intake, context)
