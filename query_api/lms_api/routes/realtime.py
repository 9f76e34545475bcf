"""``GET /api/admin/analytics/realtime`` and its push channel ``GET /api/admin/analytics/realtime/stream``
(Server-Sent Events), for an admin (or service) credential of the tenant.

The stream sends the same success envelope as the plain read, as the ``data`` of an event named
``realtime``, every ``intervalSeconds``; credentials are checked once, before the stream opens (a refusal is
the usual JSON error). A stream lasts at most :data:`STREAM_SECONDS` and tells the client to reconnect after
``retry`` ms, so a revoked credential stops being served within that bound. Browsers read it with
``fetch()`` and the ``Authorization`` header (``EventSource`` cannot send one)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from query_api.api.deps import ClockDep
from query_api.lms.realtime import ErrorSample, MinuteEvents, RealtimeMetrics, realtime_metrics
from query_api.lms_api import examples
from query_api.lms_api.access import LmsCaller, LmsCallerDep
from query_api.lms_api.responses import LmsResponse, answer, documented, errors_of_a_stream

router = APIRouter(prefix="/api/admin/analytics/realtime", tags=["lms: dashboard"])

STREAM_SECONDS = 900
RECONNECT_MS = 3_000

_AS_OF = datetime(2026, 3, 16, 9, 30, tzinfo=UTC)
REALTIME_EXAMPLE = RealtimeMetrics(
    tenant_id=examples.TENANT,
    as_of=_AS_OF,
    window_seconds=300,
    active_users=212,
    active_sessions=219,
    events=3_480,
    video_sessions_in_progress=57,
    requests=91_204,
    errors=38,
    error_rate=examples.SYSTEM.error_rate,
    events_per_minute=[MinuteEvents(_AS_OF.replace(minute=29), 702), MinuteEvents(_AS_OF, 311)],
    newest_errors=[ErrorSample(_AS_OF.replace(minute=29), "web-1", 1_840, 3)],
)


async def realtime_caller(caller: LmsCallerDep) -> LmsCaller:
    """An admin (or service) caller, checked before any answer starts (also before a stream opens)."""
    caller.require_admin()
    return caller


RealtimeCaller = Annotated[LmsCaller, Depends(realtime_caller)]


@router.get("", response_class=LmsResponse, responses=documented(RealtimeMetrics, REALTIME_EXAMPLE))
async def get_realtime_metrics(request: Request, caller: RealtimeCaller, clock: ClockDep) -> LmsResponse:
    """Active users and sessions, events, video sessions playing, requests and errors in the last 5
    minutes; events per minute over the last 15; the newest traffic samples with errors."""
    return answer(request, await realtime_metrics(caller.store, caller.tenant_id, clock()))


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "a `text/event-stream` of events named `realtime` whose `data` is the success "
            "envelope of `GET /api/admin/analytics/realtime`",
            "content": {"text/event-stream": {}},
        },
        **errors_of_a_stream(),
    },
)
async def stream_realtime_metrics(
    request: Request,
    caller: RealtimeCaller,
    clock: ClockDep,
    interval_seconds: Annotated[
        int, Query(alias="intervalSeconds", ge=1, le=60, description="seconds between two events")
    ] = 5,
) -> AsyncIterator[ServerSentEvent]:
    """The figures of ``GET /api/admin/analytics/realtime`` every ``intervalSeconds``, as Server-Sent Events
    (``event: realtime``, ``id``: a sequence number), for at most 15 minutes; then the client reconnects."""
    started = asyncio.get_running_loop().time()
    sequence = 0
    while asyncio.get_running_loop().time() - started < STREAM_SECONDS:
        if await request.is_disconnected():
            return
        figures = await realtime_metrics(caller.store, caller.tenant_id, clock())
        sequence += 1
        yield ServerSentEvent(
            raw_data=bytes(answer(request, figures).body).decode(),
            event="realtime",
            id=str(sequence),
            retry=RECONNECT_MS if sequence == 1 else None,
        )
        await asyncio.sleep(interval_seconds)
