"""Asynchronous exports (the seed's ``AnalyticsExport``): the data of one of the report builders for a
time range, as a file in the job pool of :mod:`query_api.lms_reports.jobs` (``pending`` until a slot is
free, ``processing`` while written, then ``completed``, ``failed`` or ``cancelled``), kept until
``expires_at`` and then removed by the sweep."""

from __future__ import annotations

import asyncio
import os
from datetime import date, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from query_api.lms_config.repository import Actor
from query_api.lms_config.tables import EXPORTS
from query_api.lms_reports.builders import ReportParameters, ReportType, build_report, resolve_scope
from query_api.lms_reports.jobs import CANCELLED, COMPLETED, FAILED, Outcome, Progress, ReportJobs
from query_api.lms_reports.writers import EXTENSIONS, ExportFormat, write_document
from query_api.store import QueryStore
from schemas.config_models import AnalyticsExport

EXPORT = "export"
PENDING = "pending"
PROCESSING = "processing"
STATUS_OF = {COMPLETED: "completed", FAILED: "failed", CANCELLED: "cancelled"}
"""The seed's export statuses of the pool's outcomes."""


class DataType(StrEnum):
    """What an export holds: the data of the report type of the same name."""

    COURSE_PERFORMANCE = "course_performance"
    USER_ENGAGEMENT = "user_engagement"
    SYSTEM_USAGE = "system_usage"
    ASSESSMENT_SUMMARY = "assessment_summary"
    VIDEO_ANALYTICS = "video_analytics"
    CUSTOM = "custom"


class ExportRecord:
    kind = EXPORT

    def __init__(self, jobs: ReportJobs, export_id: int) -> None:
        self.jobs = jobs
        self.row_id = export_id

    async def _set(self, **values: object) -> None:
        async with self.jobs.database.session() as session:
            await session.execute(
                update(AnalyticsExport)
                .where(AnalyticsExport.export_id == self.row_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    async def begin(self) -> None:
        await self._set(export_status=PROCESSING, heartbeat_at=self.jobs.clock())

    async def beat(self, rows: int) -> None:
        await self._set(heartbeat_at=self.jobs.clock(), rows_written=rows)

    async def finish(self, outcome: Outcome) -> None:
        await self._set(
            export_status=STATUS_OF[outcome.status],
            rows_written=outcome.rows,
            file_name=outcome.file_name,
            file_size=outcome.file_size,
            error=outcome.error,
            finished_at=self.jobs.clock(),
        )


async def start_export(
    jobs: ReportJobs,
    store: QueryStore,
    actor: Actor,
    data_type: DataType,
    fmt: ExportFormat,
    parameters: ReportParameters,
    zone: ZoneInfo,
    today: date,
) -> tuple[AnalyticsExport, asyncio.Task[Outcome]]:
    """Record an export (``pending``, expiring after ``report_link_ttl_s``) and start it. Raises
    :class:`~plumbing.http_errors.AnalyticsError` for days the reads would refuse (400)."""
    scope = resolve_scope(store, jobs.database, actor.tenant_id, zone, today, parameters)
    now = jobs.clock()
    async with jobs.database.session() as session:
        row = await EXPORTS.create(
            session,
            actor,
            {
                "export_name": f"{data_type.value} {scope.days.first}..{scope.days.last}",
                "export_type": data_type.value,
                "export_format": fmt.value,
                "export_status": PENDING,
                "requested_by": actor.subject,
                "parameters": parameters.model_dump(mode="json", exclude_defaults=True),
                "heartbeat_at": now,
                "expires_at": now + timedelta(seconds=jobs.settings.report_link_ttl_s),
            },
        )
    export_id = row.export_id

    async def work(progress: Progress) -> Outcome:
        document = await build_report(scope, ReportType(data_type.name), row.export_name, jobs.clock())
        path = jobs.files.path_for("exports", actor.tenant_id, f"{export_id}.{EXTENSIONS[fmt]}")
        partial = path.with_name(path.name + ".part")
        try:
            await asyncio.to_thread(write_document, document, fmt, partial, progress)
        except asyncio.CancelledError:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, path)
        return Outcome(COMPLETED, jobs.files.relative(path), path.stat().st_size, progress.rows)

    return row, jobs.start(ExportRecord(jobs, export_id), work)


async def sweep_exports(jobs: ReportJobs) -> tuple[int, int]:
    """Exports of dead processes → ``failed``; expired files removed."""
    now = jobs.clock()
    async with jobs.database.session() as session:
        dead = (
            await session.scalars(
                select(AnalyticsExport).where(
                    AnalyticsExport.export_status.in_((PENDING, PROCESSING)),
                    AnalyticsExport.heartbeat_at < jobs.dead_before(),
                    AnalyticsExport.export_id.not_in(jobs.running(EXPORT)),
                )
            )
        ).all()
        expired = (
            await session.scalars(
                select(AnalyticsExport).where(
                    AnalyticsExport.expires_at < now, AnalyticsExport.file_name.is_not(None)
                )
            )
        ).all()
        for export in dead:
            export.export_status = "failed"
            export.error = "interrupted: the process exporting it stopped"
            export.finished_at = now
        for export in expired:
            jobs.files.remove(jobs.files.absolute(export.file_name or ""))
            export.file_name = None
    return len(dead), len(expired)


def export_link_subject(tenant_id: str, export_id: int) -> str:
    return f"export:{tenant_id}:{export_id}"


def export_url(base_url: str, jobs: ReportJobs, export: AnalyticsExport) -> str:
    """The export's signed download link (valid until it expires; it serves the file once written)."""
    assert export.expires_at is not None
    link = jobs.files.sign(export_link_subject(export.tenant_id, export.export_id), export.expires_at)
    path = f"/api/admin/analytics/exports/{export.export_id}/download"
    return f"{base_url.rstrip('/')}{path}?expires={link.expires}&signature={link.signature}"
