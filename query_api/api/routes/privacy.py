"""GDPR: export everything held about a user, and delete it (admins and services of the user's tenant).

A deletion is a job (:mod:`jobs.erasure`): the request records it and a suppression that makes
every writer drop the user's events, and answers 202 with the job; ``analytics dev`` (in the background) or
``analytics privacy-jobs --pending`` (distributed) carries it out. Exports and deletions are audited.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from jobs.erasure_queue import PrivacyJob, privacy_job, schedule_deletion
from plumbing.http_errors import ApiError
from query_api.api.deps import Caller, CallerDep, StoreDep, UserId, envelope
from query_api.examples import example, example_response
from query_api.export import CsvExport, ExportEncoding, JsonExport, table_chunks, table_shapes
from query_api.models import Envelope, PrivacyJobPublic, UserExportPublic
from schemas.envelope import ErrorCode, detail, utc_now_iso
from schemas.times import stored_time_text
from security.audit import AuditEntry, Outcome
from security.policy import Action

router = APIRouter(prefix="/analytics/privacy", tags=["privacy"])


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


def _job_public(job: PrivacyJob) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "kind": job.kind,
        "user_id": job.user_id,
        "status": job.status.value,
        "requested_by": job.requested_by,
        "requested_at": stored_time_text(job.requested_at),
        "updated_at": stored_time_text(job.updated_at),
        "raw_rows_deleted": job.raw_rows,
        "rollup_rows_deleted": job.rollup_rows,
        "detail": job.detail,
        "status_url": status_url(job.id),
    }


def status_url(job_id: str) -> str:
    return f"{router.prefix}/jobs/{job_id}"


def _record(
    request: Request, caller: Caller, action: Action, user_id: str, outcome: Outcome, detail: str
) -> None:
    request.app.state.audit.record(
        AuditEntry.of(
            caller.principal,
            action.value,
            user_id,
            request.url.path,
            request.state.request_id,
            outcome,
            detail,
        )
    )


_EXPORT_RESPONSES = example_response("privacy_export")
_EXPORT_RESPONSES[200]["content"]["text/csv"] = {
    "example": "table,tenant_id,id,user_id,session_id,...\r\n"
    "analytics_events,acme,0190c2a4-...,user_123,sess_9,...\r\n"
}


@router.get("/users/{user_id}/export", response_model=Envelope[UserExportPublic], responses=_EXPORT_RESPONSES)
async def export_user(
    request: Request,
    user_id: UserId,
    store: StoreDep,
    caller: CallerDep,
    export_format: Annotated[
        ExportFormat,
        Query(
            alias="format",
            description="json: the envelope with one array of row objects per raw table; csv: a `table` "
            "column, then the union of every table's columns",
        ),
    ] = ExportFormat.JSON,
) -> StreamingResponse:
    """Everything held about the user, streamed: every column of every raw table (JSON or CSV).

    JSON: the envelope, ``data.tables`` holding one array of row objects per raw table (``[]`` if none);
    times ISO-8601 UTC, ``NULL`` as ``null``, JSON-valued columns as the text stored. CSV: one header, a
    ``table`` column and then the union of every table's columns; a row fills only its own table's
    columns, and ``NULL`` is empty. See docs/privacy.md.
    """
    caller.may(Action.EXPORT_USER, user_id)
    shapes = await table_shapes(store)
    tenant_id = caller.tenant_id
    encoding: ExportEncoding
    if export_format is ExportFormat.CSV:
        encoding = CsvExport([(shape.name, shape.columns) for shape in shapes])
    else:
        exported_at = utc_now_iso()
        encoding = JsonExport({"user_id": user_id, "tenant_id": tenant_id, "exported_at": exported_at})

    async def body() -> AsyncIterator[bytes]:
        rows = 0
        try:
            yield encoding.begin()
            for shape in shapes:
                yield encoding.table(shape.name)
                async for chunk in table_chunks(store, shape, tenant_id, user_id):
                    rows += len(chunk)
                    yield encoding.rows(shape.columns, chunk)
            elapsed = int((time.perf_counter() - request.state.started) * 1000)
            request_id = request.state.request_id
            yield encoding.end(
                {"timestamp": utc_now_iso(), "request_id": request_id, "processing_time": elapsed}
            )
        except BaseException as exc:  # a broken stream (client gone, store down) is audited as such
            detail = f"{export_format.value}, {rows} rows sent before {type(exc).__name__}"
            _record(request, caller, Action.EXPORT_USER, user_id, Outcome.FAILED, detail)
            raise
        detail = f"{export_format.value}, {rows} rows of {len(shapes)} tables"
        _record(request, caller, Action.EXPORT_USER, user_id, Outcome.SUCCEEDED, detail)

    safe_user = re.sub(r"[^A-Za-z0-9._-]", "_", user_id)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    filename = f"export-{safe_user}-{stamp}.{encoding.extension}"
    return StreamingResponse(
        body(),
        media_type=encoding.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


_DELETE_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "the deletion was accepted: follow `status_url`",
        "content": {"application/json": {"example": example("privacy_deletion")}},
    },
    200: {
        "description": "a deletion of this user was already pending or running: that job",
        "content": {"application/json": {"example": example("privacy_deletion")}},
    },
}


@router.delete(
    "/users/{user_id}",
    status_code=202,
    response_model=Envelope[PrivacyJobPublic],
    responses=_DELETE_RESPONSES,
)
async def delete_user(
    request: Request, response: Response, user_id: UserId, store: StoreDep, caller: CallerDep
) -> dict[str, Any]:
    """Delete everything held about the user, rollups included, as a job; its events in flight are dropped."""
    caller.may(Action.DELETE_USER, user_id)
    tenant_id, requester = caller.tenant_id, caller.principal.subject
    job, created = await store.execute(
        lambda client: schedule_deletion(client, tenant_id, user_id, requester)
    )
    if not created:
        response.status_code = 200
    response.headers["Location"] = status_url(job.id)
    detail = f"job {job.id}" + ("" if created else f" (already {job.status.value})")
    _record(request, caller, Action.DELETE_USER, user_id, Outcome.ACCEPTED, detail)
    return envelope(request, _job_public(job))


_JOB_RESPONSES = example_response("privacy_job")
_JOB_RESPONSES[404] = {
    "description": "no job with this id in the caller's tenant (NOT_FOUND)",
    "content": {
        "application/json": {
            "example": {
                "success": False,
                "error": {
                    "code": "NOT_FOUND",
                    "message": "no privacy job with this id",
                    "details": [
                        {"field": "job_id", "reason": "no privacy job with this id", "type": "not_found"}
                    ],
                },
            }
        }
    },
}


@router.get("/jobs/{job_id}", response_model=Envelope[PrivacyJobPublic], responses=_JOB_RESPONSES)
async def get_job(
    request: Request,
    job_id: Annotated[UUID, Path(description="the id a deletion request answered with")],
    store: StoreDep,
    caller: CallerDep,
) -> dict[str, Any]:
    """A deletion's state: pending, running, done (with the rows it deleted) or failed (with the reason)."""
    caller.may(Action.DELETE_USER)
    tenant_id = caller.tenant_id
    job = await store.execute(lambda client: privacy_job(client, tenant_id, str(job_id)))
    if job is None:
        message = "no privacy job with this id"
        raise ApiError(404, ErrorCode.NOT_FOUND, message, [detail("job_id", message, "not_found")])
    return envelope(request, _job_public(job))
