"""Report schedules (the seed's ``ReportSchedule``) for the tenant's admins: ``POST
…/reports/{reportId}/schedule`` (201), ``GET …/reports/schedules`` (``status``, ``reportId``), ``GET``,
``PATCH`` and ``DELETE …/reports/schedules/{scheduleId}``. The cron expression and IANA time zone are
checked on every write and ``next_run_at`` follows from them (DST-correct); the scheduler
(:mod:`query_api.lms_reports.schedules`) runs what is due. This router is mounted before the reports' own,
so that ``/schedules`` is not read as a ``{reportId}``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, EmailStr, Field, HttpUrl, StringConstraints
from sqlalchemy import ColumnElement, select

from query_api.api.deps import ClockDep
from query_api.lms_api.access import LmsCallerDep
from query_api.lms_api.config_http import (
    ConfigDbDep,
    IfMatchHeader,
    actor_of,
    based_on,
    entity_answer,
    list_answer,
    patch_changes,
    refuse_field,
    soft_delete,
    writing,
)
from query_api.lms_api.params import LimitQuery, PageQuery
from query_api.lms_api.responses import LmsResponse, pagination
from query_api.lms_api.routes.custom_dashboards import CHANGE_ERRORS, WRITE_ERRORS
from query_api.lms_config.models import UNSET, AuditFields, Name
from query_api.lms_config.tables import REPORTS, SCHEDULES
from query_api.lms_reports.builders import ReportParameters
from query_api.lms_reports.schedules import ScheduleError, next_run
from query_api.lms_reports.writers import ExportFormat
from schemas.config_models import ReportDelivery, ReportSchedule, ScheduleRun

router = APIRouter(prefix="/api/admin/reports", tags=["lms: reports"])
MAX_ID = 2**31 - 1
ReportIdPath = Annotated[int, Path(alias="reportId", ge=1, le=MAX_ID, description="the report's id")]
ScheduleIdPath = Annotated[int, Path(alias="scheduleId", ge=1, le=MAX_ID, description="the schedule's id")]
Cron = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=9, max_length=100, pattern=r"^[0-9A-Za-z*/,#?L\- ]+$"
    ),
    Field(description="five fields: minute hour day-of-month month day-of-week, e.g. `0 7 * * MON`"),
]
Zone = Annotated[
    str, StringConstraints(min_length=1, max_length=50), Field(description="IANA, e.g. `Europe/Berlin`")
]
Recipients = Annotated[list[EmailStr], Field(max_length=50, description="e-mail addresses")]
RUNS_SHOWN = 10


class ScheduleConfig(BaseModel):
    """``schedule_config``: the format, webhooks notified with the link, and overrides of the report's
    parameters for the scheduled generations."""

    model_config = ConfigDict(extra="forbid")

    format: ExportFormat = ExportFormat.PDF
    webhooks: Annotated[list[HttpUrl], Field(max_length=10)] = []
    parameters: ReportParameters | None = None


class ScheduleCreate(BaseModel):
    """``Omit<ReportSchedule, 'schedule_id' | 'report_id' | BaseAuditFields>``; ``last_run_at`` and
    ``next_run_at`` are the scheduler's."""

    model_config = ConfigDict(extra="forbid")

    schedule_name: Name
    cron_expression: Cron
    timezone: Zone
    is_enabled: bool = True
    recipients: Recipients
    schedule_config: ScheduleConfig | None = None


class ScheduleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule_name: Name = UNSET
    cron_expression: Cron = UNSET
    timezone: Zone = UNSET
    is_enabled: bool = UNSET
    recipients: Recipients = UNSET
    schedule_config: ScheduleConfig | None = None


class ScheduleOut(AuditFields):
    """The seed's ``ReportSchedule``."""

    schedule_id: int
    report_id: int
    schedule_name: str
    cron_expression: str
    timezone: str
    is_enabled: bool
    last_run_at: datetime | None
    next_run_at: datetime | None
    recipients: list[str]
    schedule_config: dict[str, Any] | None


def _out(row: ReportSchedule) -> dict[str, Any]:
    return ScheduleOut.model_validate(row, from_attributes=True).model_dump(mode="json")


def _next(cron: str, zone: str, enabled: bool, now: datetime) -> datetime | None:
    try:
        following = next_run(cron, zone, now)
    except ScheduleError as exc:
        raise refuse_field(exc.field, exc.message) from exc
    return following if enabled else None


def _config(config: ScheduleConfig | None) -> dict[str, Any] | None:
    return None if config is None else config.model_dump(mode="json", exclude_unset=True)


@router.post("/{reportId:int}/schedule", status_code=201, response_class=LmsResponse, responses=WRITE_ERRORS)
async def schedule_report(
    request: Request,
    report_id: ReportIdPath,
    body: ScheduleCreate,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    clock: ClockDep,
) -> LmsResponse:
    """Schedule the report (201): generated at each time ``cron_expression`` names in ``timezone`` and sent
    to ``recipients`` (and ``schedule_config.webhooks``)."""
    caller.require_admin()
    following = _next(body.cron_expression, body.timezone, body.is_enabled, clock())
    actor = actor_of(request, caller)
    fields = {
        **body.model_dump(mode="json"),
        "schedule_config": _config(body.schedule_config),
        "report_id": report_id,
        "next_run_at": following,
    }
    async with writing(database, f"report {report_id}", "reportId") as session:
        await REPORTS.get(session, caller.tenant_id, report_id)
        row = await SCHEDULES.create(session, actor, fields)
        if body.is_enabled:
            await REPORTS.update(session, actor, report_id, {"report_status": "SCHEDULED"}, None)
    caller.record_change("lms_config_create", f"report_schedule:{row.schedule_id}")
    return entity_answer(request, _out(row), row.version, status=201)


@router.get("/schedules", response_class=LmsResponse, responses=WRITE_ERRORS)
async def list_schedules(
    request: Request,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    status: Annotated[Literal["ENABLED", "DISABLED"] | None, Query()] = None,
    report_id: Annotated[int | None, Query(alias="reportId", ge=1, le=MAX_ID)] = None,
    page: PageQuery = 1,
    limit: LimitQuery = 50,
) -> LmsResponse:
    """The tenant's live schedules, by id: ``status`` ``ENABLED`` or ``DISABLED``, one report's only."""
    caller.require_admin()
    conditions: list[ColumnElement[bool]] = []
    if status is not None:
        conditions.append(ReportSchedule.is_enabled.is_(status == "ENABLED"))
    if report_id is not None:
        conditions.append(ReportSchedule.report_id == report_id)
    async with database.session() as session:
        rows, total = await SCHEDULES.page(session, caller.tenant_id, page, limit, *conditions)
    return list_answer(request, [_out(r) for r in rows], pagination(page, limit, total))


@router.get("/schedules/{scheduleId}", response_class=LmsResponse, responses=WRITE_ERRORS)
async def get_schedule(
    request: Request, schedule_id: ScheduleIdPath, caller: LmsCallerDep, database: ConfigDbDep
) -> LmsResponse:
    """The schedule and its latest runs, each with every recipient's delivery (status, attempts, error)."""
    caller.require_admin()
    async with writing(database, f"schedule {schedule_id}", "scheduleId") as session:
        row = await SCHEDULES.get(session, caller.tenant_id, schedule_id)
        runs = (
            await session.scalars(
                select(ScheduleRun)
                .where(ScheduleRun.schedule_id == schedule_id)
                .order_by(ScheduleRun.due_at.desc())
                .limit(RUNS_SHOWN)
            )
        ).all()
        deliveries = (
            await session.scalars(
                select(ReportDelivery)
                .where(ReportDelivery.run_id.in_([r.run_id for r in runs]))
                .order_by(ReportDelivery.delivery_id)
            )
        ).all()
    shown = [
        {
            "run_id": run.run_id,
            "due_at": run.due_at.isoformat(),
            "status": run.status,
            "generation_id": run.generation_id,
            "finished_at": None if run.finished_at is None else run.finished_at.isoformat(),
            "deliveries": [
                {
                    "channel": d.channel,
                    "recipient": d.recipient,
                    "status": d.status,
                    "attempts": d.attempts,
                    "error": d.error,
                    "delivered_at": None if d.delivered_at is None else d.delivered_at.isoformat(),
                }
                for d in deliveries
                if d.run_id == run.run_id
            ],
        }
        for run in runs
    ]
    return entity_answer(request, {**_out(row), "runs": shown}, row.version)


@router.patch("/schedules/{scheduleId}", response_class=LmsResponse, responses=CHANGE_ERRORS)
async def update_schedule(
    request: Request,
    schedule_id: ScheduleIdPath,
    body: ScheduleUpdate,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    clock: ClockDep,
    if_match: IfMatchHeader = None,
) -> LmsResponse:
    """Change a schedule; ``next_run_at`` follows from the cron expression, zone and ``is_enabled`` that
    result."""
    caller.require_admin()
    changes = patch_changes(body, SCHEDULES.nullable)
    if "schedule_config" in changes:
        changes["schedule_config"] = _config(body.schedule_config)
    actor = actor_of(request, caller)
    async with writing(database, f"schedule {schedule_id}", "scheduleId") as session:
        current = await SCHEDULES.get(session, caller.tenant_id, schedule_id)
        changes["next_run_at"] = _next(
            changes.get("cron_expression", current.cron_expression),
            changes.get("timezone", current.timezone),
            changes.get("is_enabled", current.is_enabled),
            clock(),
        )
        row = await SCHEDULES.update(session, actor, schedule_id, changes, based_on(if_match))
    caller.record_change("lms_config_update", f"report_schedule:{schedule_id}")
    return entity_answer(request, _out(row), row.version)


@router.delete("/schedules/{scheduleId}", response_class=LmsResponse, responses=CHANGE_ERRORS)
async def cancel_schedule(
    request: Request,
    schedule_id: ScheduleIdPath,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    if_match: IfMatchHeader = None,
) -> LmsResponse:
    """Cancel a schedule (soft delete: it never runs again): ``{message}`` as the seed answers."""
    row = await soft_delete(
        request, caller, database, SCHEDULES, "report schedule", schedule_id, "scheduleId", if_match
    )
    return entity_answer(request, {"message": f"schedule {schedule_id} cancelled"}, row.version)
