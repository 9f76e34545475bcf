"""The documented success answers of the ingestion routes (``response_model`` of each), so that the OpenAPI
document states them and clients, generated code and the fuzz test check them.

The seed defines ``{"event_id"}`` for one item and ``{"processed_count", "failed_count"}`` for a batch, in
the success envelope. Added, each documented here: the batch's accepted ``event_ids`` (in the order of the
accepted items) and its refused items in ``errors``; on both, ``warnings``: the accepted events stored
differently than sent (a time more than a day ahead, moved back to when it was received:
``timestamp_clamped``), shaped like an error detail. The routes build these answers as plain dicts
(:mod:`ingest_gateway.api.routes.ingest`); these models describe them and are not run per request.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.envelope import ErrorDetail


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Metadata(_Answer):
    timestamp: str = Field(description="when the answer was made, ISO-8601 UTC")
    request_id: str = Field(description="also in the `X-Request-ID` header")
    processing_time: int = Field(description="milliseconds")


class EventAccepted(_Answer):
    event_id: str = Field(
        description="the stored event's id: the body's `id`, else one derived from `Idempotency-Key`, "
        "else a new UUIDv7"
    )
    warnings: list[ErrorDetail] = Field(
        description="how the event is stored differently than sent (`timestamp_clamped`); `[]` if not"
    )


class BatchAccepted(_Answer):
    processed_count: int = Field(description="events accepted")
    failed_count: int = Field(description="events refused (each listed in `errors` with its `index`)")
    event_ids: list[str] = Field(description="the accepted events' ids, in the order of the batch")
    errors: list[ErrorDetail] = Field(description="every problem of every refused event, by `index`")
    warnings: list[ErrorDetail] = Field(
        description="accepted events stored differently than sent (`timestamp_clamped`), by `index`"
    )


class EventAcceptedAnswer(_Answer):
    """The answer of a single-item ingestion route."""

    success: Literal[True]
    data: EventAccepted
    metadata: Metadata


class BatchAcceptedAnswer(_Answer):
    """The answer of a batch route (``POST /analytics/events/batch``, ``POST /api/learning/<stream>/batch``)
    when at least one event was accepted."""

    success: Literal[True]
    data: BatchAccepted
    metadata: Metadata
