"""The learning platform's ingestion routes (ADR 0015): per stream a single-item route (the body is one item
of the stream's union on ``type``) and ``<route>/batch`` (``{"events": [...]}``), at the paths of
:data:`schemas.lms_payloads.LMS_ROUTES`.

They run the product's intake (:mod:`ingest_gateway.intake`): the same size caps, gzip, per-item batch
errors with their index, time policy, 503 rules and answers (:mod:`ingest_gateway.answers`). The tenant is
the credential's; only credentials that may post for any user of their tenant are taken
(:func:`ingest_gateway.api.deps.may_ingest_learning`). As for the product's routes, bodies are read and
validated by the intake, not by FastAPI; the OpenAPI document describes each body (:func:`body_schema`,
:func:`batch_schema`) and gets an example of every event type (:mod:`ingest_gateway.openapi`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends

from ingest_gateway.answers import BatchAcceptedAnswer, EventAcceptedAnswer
from ingest_gateway.api.deps import IntakeDep, JsonBody, LearningContextDep, may_ingest_learning
from ingest_gateway.api.routes.ingest import ERROR_RESPONSES, accept_batch, accept_one
from plumbing.responses import EnvelopeResponse
from schemas.lms_payloads import LMS_PAYLOADS, LMS_ROUTES
from schemas.topics import LMS_STREAMS, Stream

COMPONENTS = "#/components/schemas/"

router = APIRouter(tags=["learning platform ingestion"], dependencies=[Depends(may_ingest_learning)])

LEARNING_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    403: {
        "description": "the credential may not post events, or is an end user's token: the learning "
        "platform's events are posted with an ingestion API key or a service token (FORBIDDEN)"
    },
}

_WHAT = {
    Stream.LMS_ENTITIES: (
        "entity upsert",
        "a full document of an institute, course, user or enrollment, with its `version` (the newest "
        "version of an entity wins, whatever the order of arrival)",
    ),
    Stream.LMS_ACTIVITY: (
        "learning activity",
        "what a student, teacher or admin did: a login or logout, a content view, a progress update, a "
        "course completion, a video watch session, a snapshot of an assessment attempt, or anything else",
    ),
    Stream.LMS_TELEMETRY: (
        "platform telemetry sample",
        "a traffic, storage or uptime sample of one source (a node or store) of the platform",
    ),
}


def body_name(stream: Stream) -> str:
    """The OpenAPI component of one item of ``stream`` (the union's name, e.g. ``LmsActivity``)."""
    return LMS_PAYLOADS[stream].__name__


def _union_schemas(stream: Stream) -> dict[str, Any]:
    """The union's schema and every member's, by component name, their references into the components."""
    schema = LMS_PAYLOADS[stream].adapter.json_schema(ref_template=COMPONENTS + "{model}")
    defs: dict[str, Any] = schema.pop("$defs", {})
    return {
        **defs,
        body_name(stream): {"title": body_name(stream), "description": _WHAT[stream][1], **schema},
    }


def body_schema(stream: Stream) -> dict[str, Any]:
    """``openapi_extra`` of a single-item route: the body is the stream's union, a named component (the
    ``$defs`` are moved into the components by :func:`plumbing.openapi.install_openapi`)."""
    schema = {"$ref": COMPONENTS + body_name(stream), "$defs": _union_schemas(stream)}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def batch_schema(stream: Stream, max_events: int = 1000) -> dict[str, Any]:
    """``openapi_extra`` of a batch route: ``{"events": [...]}``, each item the stream's union."""
    items = {"$ref": COMPONENTS + body_name(stream)}
    schema = {
        "title": f"{body_name(stream)}Batch",
        "type": "object",
        "properties": {
            "events": {"type": "array", "items": items, "minItems": 1, "maxItems": max_events},
        },
        "required": ["events"],
        "additionalProperties": False,
        "$defs": _union_schemas(stream),
    }
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _single(stream: Stream) -> Callable[..., Awaitable[EnvelopeResponse]]:
    async def post_one(body: JsonBody, intake: IntakeDep, context: LearningContextDep) -> EnvelopeResponse:
        return await accept_one(stream, body, intake, context)

    return post_one


def _batch(stream: Stream) -> Callable[..., Awaitable[EnvelopeResponse]]:
    async def post_batch(body: JsonBody, intake: IntakeDep, context: LearningContextDep) -> EnvelopeResponse:
        return await accept_batch(stream, body, intake, context)

    return post_batch


def _add_routes(stream: Stream) -> None:
    path = LMS_ROUTES[stream]
    what, description = _WHAT[stream]
    name = stream.value.removeprefix("lms_")
    router.add_api_route(
        path,
        _single(stream),
        methods=["POST"],
        name=f"learning_{name}",
        summary=f"Post one {what}",
        description=f"One {what}: {description}. The body's `type` says which.",
        response_model=EventAcceptedAnswer,
        responses=LEARNING_ERROR_RESPONSES,
        openapi_extra=body_schema(stream),
    )
    router.add_api_route(
        f"{path}/batch",
        _batch(stream),
        methods=["POST"],
        name=f"learning_{name}_batch",
        summary=f"Post up to 1,000 items of {what}",
        description=f'`{{"events": [...]}}` of {what} items, each validated on its own: valid items are '
        f"accepted, invalid ones reported by `index`. An item is {description}; its `type` says which.",
        response_model=BatchAcceptedAnswer,
        responses=LEARNING_ERROR_RESPONSES,
        openapi_extra=batch_schema(stream),
    )


for _stream in LMS_STREAMS:
    _add_routes(_stream)
