"""Reports (the seed's ``Report``) for the tenant's admins: create, list (``type``, ``status``,
``createdBy``, paged), read with the latest generation, change (``If-Match``), soft-delete, and
``POST …/{reportId}/generate``, which builds the report with the API's readers
(:mod:`query_api.lms_reports.builders`) and writes it as PDF, Excel, CSV or JSON off the request path
(:mod:`query_api.lms_reports.jobs`). The answer's ``reportUrl`` is a signed, expiring link to
``GET …/{reportId}/download``, usable without a credential (to hand to a recipient)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from plumbing.http_errors import AnalyticsError
from query_api.api.deps import ClockDep, StoreDep, TenantsDep
from query_api.lms_api.access import LmsCallerDep
from query_api.lms_api.config_http import (
    ConfigDbDep,
    IfMatchHeader,
    actor_of,
    based_on,
    entity_answer,
    list_answer,
    patch_changes,
    soft_delete,
    writing,
)
from query_api.lms_api.file_links import (
    ALTERED,
    EXPIRED,
    FILE_ANSWER,
    NOT_WRITTEN,
    check_link,
    file_answer,
    not_written,
    refused,
    report_jobs_of,
)
from query_api.lms_api.params import LimitQuery, PageQuery
from query_api.lms_api.responses import LMS_ERRORS, LmsResponse, error_doc, pagination
from query_api.lms_api.routes.custom_dashboards import CHANGE_ERRORS, WRITE_ERRORS
from query_api.lms_config.models import UNSET, AuditFields, Description, Name
from query_api.lms_config.tables import REPORTS
from query_api.lms_reports.builders import (
    ReportConfigError,
    ReportParameters,
    ReportType,
    check_config,
    report_parameters,
)
from query_api.lms_reports.generation import start_generation
from query_api.lms_reports.jobs import (
    COMPLETED,
    FAILED,
    ReportJobs,
    link_subject,
    signed_url,
)
from query_api.lms_reports.writers import ExportFormat
from schemas.config_models import Report, ReportGeneration
from schemas.lms_envelope import AnalyticsErrorCode, lms_success

router = APIRouter(prefix="/api/admin/reports", tags=["lms: reports"])
downloads = APIRouter(prefix="/api/admin/reports", tags=["lms: reports"])
"""The signed download, mounted without authentication: the link is the credential."""
ReportIdPath = Annotated[int, Path(alias="reportId", ge=1, le=2**31 - 1, description="the report's id")]
ReportStatus = Literal["DRAFT", "SCHEDULED", "GENERATING", "COMPLETED", "FAILED", "CANCELLED"]
SETTABLE_STATUS = Literal["DRAFT", "CANCELLED"]
"""What a client may set; the others follow from schedules and generations."""

GENERATION_FAILED = error_doc(
    422,
    "the report could not be generated (the reason is the message)",
    AnalyticsErrorCode.REPORT_GENERATION_FAILED,
    "custom metric 7 does not exist",
    "report_config.metricIds",
)
ERRORS = WRITE_ERRORS
GENERATE_ERRORS: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "still generating after `ANALYTICS_REPORT_WAIT_S`: `generatedAt` and `reportUrl` null"
    },
    **WRITE_ERRORS,
    422: GENERATION_FAILED,
}


class ReportCreate(BaseModel):
    """``Omit<Report, 'report_id' | BaseAuditFields>``; the tenant is the credential's, and the status,
    ``last_generated_at`` and ``report_data_url`` are the system's (a new report is a ``DRAFT``)."""

    model_config = ConfigDict(extra="forbid")

    report_name: Name
    report_type: ReportType
    report_description: Description | None = None
    report_config: ReportParameters
    report_status: SETTABLE_STATUS = "DRAFT"


class ReportUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    report_name: Name = UNSET
    report_type: ReportType = UNSET
    report_description: Description | None = None
    report_config: ReportParameters = UNSET
    report_status: SETTABLE_STATUS = UNSET


class ReportOut(AuditFields):
    """The seed's ``Report``."""

    report_id: int
    report_name: str
    report_type: ReportType
    report_description: str | None
    report_config: dict[str, Any]
    report_status: ReportStatus
    last_generated_at: datetime | None
    report_data_url: str | None


class GenerationOut(BaseModel):
    """A generation of the report (ours): its state, progress and, once written, its file and link."""

    generation_id: int
    format: ExportFormat
    status: ReportStatus
    parameters: dict[str, Any]
    rows_written: int
    file_size: int | None
    error: str | None
    requested_at: datetime
    requested_by: str
    generatedAt: datetime | None  # noqa: N815 (as the generate answer names it)
    expiresAt: datetime | None  # noqa: N815
    reportUrl: str | None  # noqa: N815
    generationId: int  # noqa: N815


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parameters: ReportParameters | None = None
    """overrides of the report's ``report_config``, field by field"""
    format: ExportFormat = ExportFormat.PDF


def _config_error(exc: ReportConfigError) -> AnalyticsError:
    return AnalyticsError(
        400, AnalyticsErrorCode.ANALYTICS_VALIDATION_ERROR, exc.message, {exc.field: [exc.message]}
    )


def _config_of(parameters: ReportParameters) -> dict[str, Any]:
    """The parameters as stored: what the client set, as JSON."""
    return parameters.model_dump(mode="json", exclude_unset=True)


def _checked(report_type: ReportType, config: dict[str, Any]) -> ReportParameters:
    try:
        return check_config(report_type, config)
    except ReportConfigError as exc:
        raise _config_error(exc) from exc


def _out(row: Report) -> dict[str, Any]:
    return ReportOut.model_validate(row, from_attributes=True).model_dump(mode="json")


def _generation_out(request: Request, jobs: ReportJobs, row: ReportGeneration) -> dict[str, Any]:
    return GenerationOut(
        generation_id=row.generation_id,
        generationId=row.generation_id,
        format=ExportFormat(row.export_format),
        status=row.status,
        parameters=row.parameters,
        rows_written=row.rows_written,
        file_size=row.file_size,
        error=row.error,
        requested_at=row.created_at,
        requested_by=row.created_by,
        generatedAt=row.finished_at if row.status == COMPLETED else None,
        expiresAt=row.expires_at,
        reportUrl=signed_url(str(request.base_url), jobs.files, row),
    ).model_dump(mode="json")


@router.post("", status_code=201, response_class=LmsResponse, responses=ERRORS)
async def create_report(
    request: Request, body: ReportCreate, caller: LmsCallerDep, database: ConfigDbDep
) -> LmsResponse:
    """Save a report definition (201); ``report_config`` holds its parameters (``period`` or
    ``startDate``/``endDate``, ``granularity``, ``courseIds``; ``metricIds``/``widgetIds`` for ``CUSTOM``),
    checked now (400 naming the field)."""
    caller.require_admin()
    _checked(body.report_type, _config_of(body.report_config))
    actor = actor_of(request, caller)
    fields = {**body.model_dump(mode="json"), "report_config": _config_of(body.report_config)}
    async with writing(database, "the report", "report_name") as session:
        row = await REPORTS.create(session, actor, fields)
    caller.record_change("lms_config_create", f"report:{row.report_id}")
    return entity_answer(request, _out(row), row.version, status=201)


@router.get("", response_class=LmsResponse, responses=ERRORS)
async def list_reports(
    request: Request,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    report_type: Annotated[ReportType | None, Query(alias="type")] = None,
    status: Annotated[ReportStatus | None, Query()] = None,
    created_by: Annotated[str | None, Query(alias="createdBy", max_length=128)] = None,
    page: PageQuery = 1,
    limit: LimitQuery = 50,
) -> LmsResponse:
    """The tenant's live reports, by id, of ``type``, in ``status`` and by ``createdBy`` (a credential's
    subject) when given."""
    caller.require_admin()
    conditions = []
    if report_type is not None:
        conditions.append(Report.report_type == report_type.value)
    if status is not None:
        conditions.append(Report.report_status == status)
    if created_by is not None:
        conditions.append(Report.created_by == created_by)
    async with database.session() as session:
        rows, total = await REPORTS.page(session, caller.tenant_id, page, limit, *conditions)
    return list_answer(request, [_out(r) for r in rows], pagination(page, limit, total))


@router.get("/{reportId:int}", response_class=LmsResponse, responses=ERRORS)
async def get_report(
    request: Request, report_id: ReportIdPath, caller: LmsCallerDep, database: ConfigDbDep
) -> LmsResponse:
    """The report and, as ``data``, its latest generation (state, progress, and the link to its file)."""
    caller.require_admin()
    async with writing(database, f"report {report_id}", "reportId") as session:
        row = await REPORTS.get(session, caller.tenant_id, report_id)
        latest = (
            await session.scalars(
                select(ReportGeneration)
                .where(
                    ReportGeneration.report_id == report_id, ReportGeneration.tenant_id == caller.tenant_id
                )
                .order_by(ReportGeneration.generation_id.desc())
                .limit(1)
            )
        ).one_or_none()
    data = None if latest is None else _generation_out(request, report_jobs_of(request), latest)
    return entity_answer(request, {**_out(row), "data": data}, row.version)


@router.patch("/{reportId:int}", response_class=LmsResponse, responses=CHANGE_ERRORS)
async def update_report(
    request: Request,
    report_id: ReportIdPath,
    body: ReportUpdate,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    if_match: IfMatchHeader = None,
) -> LmsResponse:
    """Change a report; the configuration that results is checked as on creation."""
    caller.require_admin()
    changes = patch_changes(body, REPORTS.nullable)
    if body.report_config is not None:
        changes["report_config"] = _config_of(body.report_config)
    actor = actor_of(request, caller)
    async with writing(database, f"report {report_id}", "reportId") as session:
        current = await REPORTS.get(session, caller.tenant_id, report_id)
        _checked(
            ReportType(changes.get("report_type", current.report_type)),
            changes.get("report_config", current.report_config),
        )
        row = await REPORTS.update(session, actor, report_id, changes, based_on(if_match))
    caller.record_change("lms_config_update", f"report:{report_id}")
    return entity_answer(request, _out(row), row.version)


@router.delete("/{reportId:int}", response_class=LmsResponse, responses=CHANGE_ERRORS)
async def delete_report(
    request: Request,
    report_id: ReportIdPath,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    if_match: IfMatchHeader = None,
) -> LmsResponse:
    """Soft-delete a report: ``{message}`` as the seed answers."""
    row = await soft_delete(request, caller, database, REPORTS, "report", report_id, "reportId", if_match)
    return entity_answer(request, {"message": f"report {report_id} deleted"}, row.version)


@router.post("/{reportId:int}/generate", response_class=LmsResponse, responses=GENERATE_ERRORS)
async def generate_report(
    request: Request,
    report_id: ReportIdPath,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    tenants: TenantsDep,
    clock: ClockDep,
    store: StoreDep,
    body: GenerateRequest | None = None,
) -> LmsResponse:
    """Generate the report now with its configuration (``parameters`` override it field by field) as
    ``format`` (default PDF). Answers ``{reportUrl, generatedAt}`` once the file is written; a generation
    still running after ``ANALYTICS_REPORT_WAIT_S`` answers 202 with ``generatedAt: null`` and the
    ``generationId`` to follow on ``GET …/{reportId}`` (``data``). 422 ``REPORT_GENERATION_FAILED`` with the
    reason when it fails."""
    caller.require_admin()
    body = body or GenerateRequest()
    jobs = report_jobs_of(request)
    async with writing(database, f"report {report_id}", "reportId") as session:
        report = await REPORTS.get(session, caller.tenant_id, report_id)
    try:
        overrides = None if body.parameters is None else _config_of(body.parameters)
        parameters = report_parameters(report.report_config, overrides)
    except ReportConfigError as exc:
        raise _config_error(exc) from exc
    zone = await tenants.zone(caller.tenant_id)
    generation_id, task = await start_generation(
        jobs,
        store,
        report,
        actor_of(request, caller),
        body.format,
        parameters,
        zone,
        clock().astimezone(zone).date(),
    )
    caller.record_change("lms_report_generate", f"report:{report_id}")
    outcome = await jobs.wait(task, jobs.settings.report_wait_s)
    async with database.session() as session:
        row = await session.get(ReportGeneration, generation_id)
    assert row is not None
    answer_data = _generation_out(request, jobs, row)
    if outcome is not None and outcome.status == FAILED:
        raise AnalyticsError(
            422,
            AnalyticsErrorCode.REPORT_GENERATION_FAILED,
            f"report {report_id} could not be generated: {outcome.error}",
            {"reportId": [outcome.error or "failed"]},
        )
    status = 200 if outcome is not None else 202
    message = "OK" if outcome is not None else "Accepted: the report is being generated"
    body_out = lms_success(
        answer_data, str(getattr(request.state, "request_id", "")), status=status, message=message
    )
    return LmsResponse(body_out, status_code=status)


DOWNLOAD_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: FILE_ANSWER,
    400: LMS_ERRORS[400],
    403: ALTERED,
    404: error_doc(404, "no such path (a report id is a number)", AnalyticsErrorCode.NOT_FOUND, "Not Found"),
    409: NOT_WRITTEN,
    410: EXPIRED,
}


@downloads.get("/{reportId:int}/download", response_class=FileResponse, responses=DOWNLOAD_ANSWERS)
async def download_report(
    request: Request,
    report_id: ReportIdPath,
    database: ConfigDbDep,
    generation_id: Annotated[int, Query(alias="generation", ge=1, le=2**31 - 1)],
    expires: Annotated[int, Query(ge=0, le=2**40)],
    signature: Annotated[str, Query(min_length=1, max_length=200)],
) -> FileResponse:
    """The file of a generation, through the signed link its answer gave (no credential needed: the link is
    one). 403 for a link altered in any part, 410 once it or the file expired, 409 while it is written."""
    jobs = report_jobs_of(request)
    async with database.session() as session:
        row = await session.get(ReportGeneration, generation_id)
    if row is None or row.report_id != report_id:
        raise refused()
    check_link(jobs, link_subject(row.tenant_id, generation_id), expires, signature, row.expires_at)
    if row.status != COMPLETED:
        raise not_written(f"the report is {row.status.lower()}")
    fmt = ExportFormat(row.export_format)
    return file_answer(jobs, row.file_name, fmt, f"report-{report_id}-{generation_id}")
