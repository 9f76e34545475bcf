"""Report generations off the request path: at most ``report_generators`` at once per process (later ones
wait in arrival order), each writing its file under a temporary name and renaming it when complete, and
recording its outcome in the configuration store.

Crashes: a running generation beats (``heartbeat_at``) every ``report_heartbeat_s``; :meth:`sweep`, run
at start and then periodically by every process, marks a generation whose beat stopped ``FAILED`` (its
process died: nothing else would ever finish it) and removes expired files. A generation interrupted by a
clean shutdown is marked at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from plumbing.config_db import ConfigDatabase
from query_api.lms_reports.files import FileStore
from query_api.lms_reports.settings import ReportSettings
from schemas.config_models import Report, ReportGeneration

log = logging.getLogger(__name__)

GENERATING = "GENERATING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
STALE_BEATS = 6
"""Beats a generation may miss before it counts as dead."""


class GenerationFailed(Exception):
    """A generation that cannot complete for a reason its requester should read (a deleted metric, ...)."""


@dataclass(slots=True)
class Outcome:
    """How a generation ended: the file (relative to the files directory) and its size, or the error."""

    status: str
    file_name: str | None = None
    file_size: int | None = None
    rows: int = 0
    error: str | None = None


Work = Callable[["Progress"], Awaitable[Outcome]]


class Progress:
    """Rows written so far, read by the heartbeat (written from the writer's thread: an int is atomic)."""

    def __init__(self) -> None:
        self.rows = 0

    def __call__(self, rows: int) -> None:
        self.rows = rows


class ReportJobs:
    """The process's generations: start, wait for, stop, and sweep up after other processes."""

    def __init__(
        self,
        database: ConfigDatabase,
        files: FileStore,
        settings: ReportSettings,
        clock: Callable[[], datetime],
    ) -> None:
        self.database = database
        self.files = files
        self.settings = settings
        self.clock = clock
        self._slots = asyncio.Semaphore(settings.report_generators)
        self._running: dict[int, asyncio.Task[Outcome]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def start(self, generation_id: int, work: Work) -> asyncio.Task[Outcome]:
        task = asyncio.get_running_loop().create_task(self._run(generation_id, work))
        self._running[generation_id] = task
        task.add_done_callback(lambda _: self._running.pop(generation_id, None))
        return task

    async def _run(self, generation_id: int, work: Work) -> Outcome:
        async with self._slots:
            progress = Progress()
            beating = asyncio.create_task(self._beat(generation_id, progress))
            try:
                outcome = await work(progress)
            except GenerationFailed as exc:
                outcome = Outcome(FAILED, rows=progress.rows, error=str(exc))
            except asyncio.CancelledError:
                await self._finish(
                    generation_id, Outcome(FAILED, error="stopped with the process generating it")
                )
                raise
            except Exception as exc:  # noqa: BLE001 - recorded as the generation's failure reason
                log.exception("report generation %s failed", generation_id)
                outcome = Outcome(FAILED, rows=progress.rows, error=f"internal error ({type(exc).__name__})")
            finally:
                beating.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beating
            await self._finish(generation_id, outcome)
            return outcome

    async def _beat(self, generation_id: int, progress: Progress) -> None:
        while True:
            await asyncio.sleep(self.settings.report_heartbeat_s)
            async with self.database.session() as session:
                await session.execute(
                    update(ReportGeneration)
                    .where(ReportGeneration.generation_id == generation_id)
                    .values(heartbeat_at=self.clock(), rows_written=progress.rows)
                    .execution_options(synchronize_session=False)
                )

    async def _finish(self, generation_id: int, outcome: Outcome) -> None:
        """Record ``outcome`` on the generation and its report (the report's latest state)."""
        now = self.clock()
        async with self.database.session() as session:
            generation = await session.get(ReportGeneration, generation_id)
            if generation is None:
                return
            generation.status = outcome.status
            generation.rows_written = outcome.rows
            generation.file_name = outcome.file_name
            generation.file_size = outcome.file_size
            generation.error = outcome.error
            generation.finished_at = now
            if outcome.status == COMPLETED:
                generation.expires_at = now + timedelta(seconds=self.settings.report_link_ttl_s)
            report = await session.get(Report, generation.report_id)
            if report is not None and not report.is_deleted:
                report.report_status = outcome.status
                if outcome.status == COMPLETED:
                    report.last_generated_at = now
                    report.report_data_url = download_path(report.report_id, generation_id)

    async def wait(self, task: asyncio.Task[Outcome], seconds: float) -> Outcome | None:
        """The outcome if the generation ends within ``seconds``; it keeps running either way."""
        done, _ = await asyncio.wait({task}, timeout=seconds)
        return task.result() if done else None

    async def sweep(self) -> tuple[int, int]:
        """Mark dead generations ``FAILED`` and remove expired files; (failed, removed)."""
        now = self.clock()
        dead_before = now - timedelta(seconds=self.settings.report_heartbeat_s * STALE_BEATS)
        async with self.database.session() as session:
            dead = (
                await session.scalars(
                    select(ReportGeneration).where(
                        ReportGeneration.status == GENERATING,
                        ReportGeneration.heartbeat_at < dead_before,
                        ReportGeneration.generation_id.not_in(list(self._running)),
                    )
                )
            ).all()
            expired = (
                await session.scalars(
                    select(ReportGeneration).where(
                        ReportGeneration.expires_at < now, ReportGeneration.file_name.is_not(None)
                    )
                )
            ).all()
            for generation in dead:
                generation.status = FAILED
                generation.error = "interrupted: the process generating it stopped"
                generation.finished_at = now
                report = await session.get(Report, generation.report_id)
                if report is not None and report.report_status == GENERATING:
                    report.report_status = FAILED
            for generation in expired:
                self.files.remove(self.files.absolute(generation.file_name or ""))
                generation.file_name = None
        if dead:
            log.warning("marked %d report generation(s) of stopped processes FAILED", len(dead))
        return len(dead), len(expired)

    async def maintain(self) -> None:
        """Sweep now and then every few beats, until cancelled."""
        while True:
            try:
                await self.sweep()
            except Exception:  # noqa: BLE001 - the store may be briefly unavailable; try at the next round
                log.exception("sweeping report generations failed")
            await asyncio.sleep(self.settings.report_heartbeat_s * 3)

    def start_maintenance(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self.maintain())

    async def close(self) -> None:
        """Stop the sweeper and the running generations (each marked ``FAILED``: stopped with the process)."""
        tasks: list[asyncio.Task[Any]] = [*self._running.values()]
        if self._sweeper is not None:
            tasks.append(self._sweeper)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def download_path(report_id: int, generation_id: int) -> str:
    """The API path of a generation's file (a link adds ``expires`` and ``signature``)."""
    return f"/api/admin/reports/{report_id}/download?generation={generation_id}"


def signed_url(base_url: str, files: FileStore, generation: ReportGeneration) -> str | None:
    """The generation's download link under ``base_url`` while its file lives, else ``None``."""
    if generation.status != COMPLETED or generation.expires_at is None or generation.file_name is None:
        return None
    link = files.sign(link_subject(generation.tenant_id, generation.generation_id), generation.expires_at)
    path = download_path(generation.report_id, generation.generation_id)
    return f"{base_url.rstrip('/')}{path}&expires={link.expires}&signature={link.signature}"


def link_subject(tenant_id: str, generation_id: int) -> str:
    """What a download link's signature covers besides its expiry."""
    return f"report:{tenant_id}:{generation_id}"


def utc_now() -> datetime:
    return datetime.now(UTC)
