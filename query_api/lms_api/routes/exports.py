"""Data exports (the seed's ``AnalyticsExport``) for the tenant's admins: ``POST …/analytics/export``
starts an asynchronous job and answers ``{exportUrl, expiresAt}``; ``GET …/exports`` (``status``,
``format``, paged), ``GET …/exports/{exportId}`` (status, progress, size), ``GET
…/exports/{exportId}/download`` (the signed link of ``exportUrl``, with the admin's credential: another
tenant's admin is refused; 409 until written, 410 once expired), ``DELETE …/exports/{exportId}`` (cancels a
pending or running job; a finished one is removed with its file)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from plumbing.http_errors import AnalyticsError
from query_api.api.deps import ClockDep, StoreDep, TenantsDep
from query_api.lms_api.access import LmsCallerDep
from query_api.lms_api.config_http import (
    ConfigDbDep,
    actor_of,
    entity_answer,
    list_answer,
    soft_delete,
    writing,
)
from query_api.lms_api.file_links import (
    EXPIRED,
    FILE_ANSWER,
    NOT_WRITTEN,
    check_link,
    file_answer,
    not_written,
    report_jobs_of,
)
from query_api.lms_api.params import LimitQuery, PageQuery
from query_api.lms_api.periods import DayGranularity
from query_api.lms_api.responses import LmsResponse, pagination
from query_api.lms_api.routes.custom_dashboards import WRITE_ERRORS
from query_api.lms_api.routes.custom_metrics import TimeRangeFilter
from query_api.lms_config.models import AuditFields
from query_api.lms_config.tables import EXPORTS
from query_api.lms_reports.builders import (
    MAX_REPORT_COURSES,
    MAX_REPORT_ITEMS,
    Id,
    ReportConfigError,
    ReportType,
    check_config,
)
from query_api.lms_reports.exports import (
    EXPORT,
    PENDING,
    PROCESSING,
    DataType,
    export_link_subject,
    export_url,
    start_export,
)
from query_api.lms_reports.writers import ExportFormat
from schemas.config_models import AnalyticsExport
from schemas.lms_envelope import AnalyticsErrorCode

router = APIRouter(prefix="/api/admin/analytics", tags=["lms: exports"])
ExportIdPath = Annotated[int, Path(alias="exportId", ge=1, le=2**31 - 1, description="the export's id")]
ExportStatus = Literal["pending", "processing", "completed", "failed", "cancelled"]


class ExportFilters(BaseModel):
    """``filters``: what of ``dataType`` to export (the report parameters besides the days)."""

    model_config = ConfigDict(extra="forbid")

    granularity: DayGranularity | None = None
    courseIds: Annotated[list[Id], Field(max_length=MAX_REPORT_COURSES)] | None = None  # noqa: N815
    metricIds: Annotated[list[Id], Field(max_length=MAX_REPORT_ITEMS)] | None = None  # noqa: N815
    widgetIds: Annotated[list[Id], Field(max_length=MAX_REPORT_ITEMS)] | None = None  # noqa: N815


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataType: DataType  # noqa: N815 (the seed's names)
    filters: ExportFilters | None = None
    format: ExportFormat
    timeRange: TimeRangeFilter | None = None  # noqa: N815


class ExportOut(AuditFields):
    """The seed's ``AnalyticsExport`` (``file_url``: the signed link; ``rows_written``, ``error``: ours)."""

    export_id: int
    export_name: str
    export_type: DataType
    export_format: ExportFormat
    export_status: ExportStatus
    file_url: str | None
    file_size: int | None
    expires_at: datetime | None
    requested_by: str
    parameters: dict[str, Any]
    rows_written: int
    error: str | None
    finished_at: datetime | None


def _out(request: Request, row: AnalyticsExport) -> dict[str, Any]:
    out = ExportOut.model_validate(row, from_attributes=True)
    out.file_url = export_url(str(request.base_url), report_jobs_of(request), row) if row.file_name else None
    return out.model_dump(mode="json")


@router.post("/export", response_class=LmsResponse, responses=WRITE_ERRORS)
async def export_data(
    request: Request,
    body: ExportRequest,
    caller: LmsCallerDep,
    tenants: TenantsDep,
    clock: ClockDep,
    store: StoreDep,
) -> LmsResponse:
    """Start exporting ``dataType`` (the data of the report type of that name: ``course_performance``,
    ``user_engagement``, ``system_usage``, ``assessment_summary``, ``video_analytics``, ``custom``) over
    ``timeRange`` (default the last 30 days) with ``filters``, as ``format``. Answers at once with
    ``exportUrl`` (the signed download, serving the file once written) and ``expiresAt``; follow the job on
    ``GET …/exports/{exportId}``."""
    caller.require_admin()
    window = body.timeRange or TimeRangeFilter()
    fields = {
        **(body.filters.model_dump(exclude_none=True) if body.filters else {}),
        **window.model_dump(exclude_none=True),
    }
    try:
        parameters = check_config(ReportType(body.dataType.name), fields)
    except ReportConfigError as exc:
        field = exc.field.replace("report_config.", "filters.")
        raise AnalyticsError(
            400, AnalyticsErrorCode.ANALYTICS_VALIDATION_ERROR, exc.message, {field: [exc.message]}
        ) from exc
    zone = await tenants.zone(caller.tenant_id)
    row, _ = await start_export(
        report_jobs_of(request),
        store,
        actor_of(request, caller),
        body.dataType,
        body.format,
        parameters,
        zone,
        clock().astimezone(zone).date(),
    )
    caller.record_change("lms_export_start", f"export:{row.export_id}")
    data = {
        "exportUrl": export_url(str(request.base_url), report_jobs_of(request), row),
        "expiresAt": row.expires_at,
        "exportId": row.export_id,
        "status": row.export_status,
    }
    return entity_answer(request, data, row.version)


@router.get("/exports", response_class=LmsResponse, responses=WRITE_ERRORS)
async def list_exports(
    request: Request,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    status: Annotated[ExportStatus | None, Query()] = None,
    export_format: Annotated[ExportFormat | None, Query(alias="format")] = None,
    page: PageQuery = 1,
    limit: LimitQuery = 50,
) -> LmsResponse:
    """The tenant's exports, by id, in ``status`` and of ``format`` when given."""
    caller.require_admin()
    conditions = []
    if status is not None:
        conditions.append(AnalyticsExport.export_status == status)
    if export_format is not None:
        conditions.append(AnalyticsExport.export_format == export_format.value)
    async with database.session() as session:
        rows, total = await EXPORTS.page(session, caller.tenant_id, page, limit, *conditions)
    return list_answer(request, [_out(request, r) for r in rows], pagination(page, limit, total))


@router.get("/exports/{exportId}", response_class=LmsResponse, responses=WRITE_ERRORS)
async def get_export(
    request: Request, export_id: ExportIdPath, caller: LmsCallerDep, database: ConfigDbDep
) -> LmsResponse:
    """The export: status, progress (``rows_written``), size and, once written, its link."""
    caller.require_admin()
    async with writing(database, f"export {export_id}", "exportId") as session:
        row = await EXPORTS.get(session, caller.tenant_id, export_id)
    return entity_answer(request, _out(request, row), row.version)


DOWNLOAD_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: FILE_ANSWER,
    **WRITE_ERRORS,
    409: NOT_WRITTEN,
    410: EXPIRED,
}


@router.get("/exports/{exportId}/download", response_class=FileResponse, responses=DOWNLOAD_ANSWERS)
async def download_export(
    request: Request,
    export_id: ExportIdPath,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    expires: Annotated[int, Query(ge=0, le=2**40)],
    signature: Annotated[str, Query(min_length=1, max_length=200)],
) -> FileResponse:
    """The export's file through its signed link, for an admin of its tenant (another tenant's: 404)."""
    caller.require_admin()
    jobs = report_jobs_of(request)
    async with writing(database, f"export {export_id}", "exportId") as session:
        row = await EXPORTS.get(session, caller.tenant_id, export_id)
    check_link(jobs, export_link_subject(row.tenant_id, export_id), expires, signature, row.expires_at)
    if row.export_status in (PENDING, PROCESSING):
        raise not_written(f"export {export_id} is {row.export_status}")
    if row.export_status != "completed":
        raise AnalyticsError(
            410, AnalyticsErrorCode.GONE, f"export {export_id} {row.export_status}: {row.error or 'no file'}"
        )
    return file_answer(jobs, row.file_name, ExportFormat(row.export_format), f"export-{export_id}")


@router.delete("/exports/{exportId}", response_class=LmsResponse, responses=WRITE_ERRORS)
async def cancel_export(
    request: Request, export_id: ExportIdPath, caller: LmsCallerDep, database: ConfigDbDep
) -> LmsResponse:
    """Cancel a pending or running export (its job stops, ``cancelled``); a finished one is removed with
    its file. ``{message}`` as the seed answers."""
    caller.require_admin()
    jobs = report_jobs_of(request)
    async with writing(database, f"export {export_id}", "exportId") as session:
        row = await EXPORTS.get(session, caller.tenant_id, export_id)
    if row.export_status in (PENDING, PROCESSING):
        if not jobs.cancel(EXPORT, export_id):  # another process runs it: mark it; its sweep won't revive it
            async with database.session() as session:
                running = await EXPORTS.get(session, caller.tenant_id, export_id)
                running.export_status, running.error = "cancelled", "cancelled"
        caller.record_change("lms_export_cancel", f"export:{export_id}")
        return entity_answer(request, {"message": f"export {export_id} cancelled"}, row.version)
    deleted = await soft_delete(request, caller, database, EXPORTS, "export", export_id, "exportId")
    if row.file_name:
        jobs.files.remove(jobs.files.absolute(row.file_name))
    return entity_answer(request, {"message": f"export {export_id} deleted"}, deleted.version)
