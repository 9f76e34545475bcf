"""The report scheduler as a process of its own (``analytics scheduler``) or beside an app (``analytics
dev``, the query API): its stores, generation pool, deliveries and sweep."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

from plumbing.clickhouse import open_client
from plumbing.config_db import ConfigDatabase
from query_api.lms_reports.delivery import Deliveries
from query_api.lms_reports.exports import sweep_exports
from query_api.lms_reports.files import FileStore
from query_api.lms_reports.jobs import ReportJobs, utc_now
from query_api.lms_reports.schedules import Scheduler
from query_api.lms_reports.settings import ReportSettings
from query_api.metrics import QueryMetrics
from query_api.settings import QuerySettings
from query_api.store import QueryStore
from query_api.tenants import TenantDirectory


def report_jobs(
    database: ConfigDatabase, settings: ReportSettings, clock: Callable[[], datetime]
) -> ReportJobs:
    """The job pool of a process, sweeping generations and exports."""
    return ReportJobs(database, FileStore(settings), settings, clock, sweepers=[sweep_exports])


async def run_scheduler(settings: QuerySettings, report_settings: ReportSettings, once: bool = False) -> int:
    """Run due schedules until cancelled (``once``: one tick, then return how many runs it made)."""
    store = QueryStore(
        lambda: open_client(settings.clickhouse_url, settings.clickhouse_database),
        QueryMetrics(),
        settings.query_pool_size,
    )
    database = ConfigDatabase(settings.database_url)
    jobs = report_jobs(database, report_settings, utc_now)
    scheduler = Scheduler(
        jobs, store, Deliveries(report_settings, jobs.files), TenantDirectory(store, settings).zone
    )
    try:
        if once:
            await jobs.sweep()
            return len(await scheduler.tick())
        jobs.start_maintenance()
        await scheduler.run_forever()
        return 0
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await jobs.close()
        await store.close()
        await database.close()
