"""Starting a report's generation, for the API (``POST …/generate``) and the scheduler alike: record it
(``GENERATING``), then build the document with the API's readers and write the file off the request path
(:class:`~query_api.lms_reports.jobs.ReportJobs`)."""

from __future__ import annotations

import asyncio
import os
from datetime import date
from zoneinfo import ZoneInfo

from query_api.lms_config.repository import Actor
from query_api.lms_config.tables import GENERATIONS, REPORTS
from query_api.lms_reports.builders import ReportParameters, ReportType, build_report, resolve_scope
from query_api.lms_reports.jobs import COMPLETED, GENERATING, GenerationRecord, Outcome, Progress, ReportJobs
from query_api.lms_reports.writers import EXTENSIONS, ExportFormat, write_document
from query_api.store import QueryStore
from schemas.config_models import Report


async def start_generation(
    jobs: ReportJobs,
    store: QueryStore,
    report: Report,
    actor: Actor,
    fmt: ExportFormat,
    parameters: ReportParameters,
    zone: ZoneInfo,
    today: date,
) -> tuple[int, asyncio.Task[Outcome]]:
    """Record a generation of ``report`` and start it; (its id, the task that ends with its outcome).
    Raises :class:`~plumbing.http_errors.AnalyticsError` for days the reads would refuse (400)."""
    scope = resolve_scope(store, jobs.database, report.tenant_id, zone, today, parameters)
    async with jobs.database.session() as session:
        generation = await GENERATIONS.create(
            session,
            actor,
            {
                "report_id": report.report_id,
                "export_format": fmt.value,
                "parameters": parameters.model_dump(mode="json", exclude_defaults=True),
                "status": GENERATING,
                "heartbeat_at": jobs.clock(),
            },
        )
        await REPORTS.update(session, actor, report.report_id, {"report_status": GENERATING}, None)
    generation_id = generation.generation_id
    report_type = ReportType(report.report_type)

    async def work(progress: Progress) -> Outcome:
        document = await build_report(scope, report_type, report.report_name, jobs.clock())
        path = jobs.files.path_for("reports", report.tenant_id, f"{generation_id}.{EXTENSIONS[fmt]}")
        partial = path.with_name(path.name + ".part")
        await asyncio.to_thread(write_document, document, fmt, partial, progress)
        os.replace(partial, path)
        return Outcome(COMPLETED, jobs.files.relative(path), path.stat().st_size, progress.rows)

    return generation_id, jobs.start(GenerationRecord(jobs, generation_id), work)
