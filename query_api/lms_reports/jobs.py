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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

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


Sweeper = Callable[["ReportJobs"], Awaitable[tuple[int, int]]]
"""Marks one kind's jobs of dead processes failed and removes its expired files; (failed, removed)."""


class JobRecord(Protocol):
    """How one kind of job (a report generation, an export) keeps its row: the pool calls these."""

    kind: str
    row_id: int

    async def begin(self) -> None:
        """A slot was taken: the job runs now."""

    async def beat(self, rows: int) -> None:
        """Still alive (also while waiting for a slot), with the rows written so far."""

    async def finish(self, outcome: Outcome) -> None:
        """Record how it ended."""


class ReportJobs:
    """The process's generations and exports: start, wait for, cancel, stop, and sweep up after other
    processes."""

    def __init__(
        self,
        database: ConfigDatabase,
        files: FileStore,
        settings: ReportSettings,
        clock: Callable[[], datetime],
        sweepers: Sequence[Sweeper] = (),
    ) -> None:
        self.database = database
        self.sweepers: list[Sweeper] = [sweep_generations, *sweepers]
        """One per kind of job: generations always, others (exports) as the composer adds them."""
        self.files = files
        self.settings = settings
        self.clock = clock
        self._slots = asyncio.Semaphore(settings.report_generators)
        self._running: dict[tuple[str, int], asyncio.Task[Outcome]] = {}
        self._cancelled: set[tuple[str, int]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    def start(self, record: JobRecord, work: Work) -> asyncio.Task[Outcome]:
        key = (record.kind, record.row_id)
        task = asyncio.get_running_loop().create_task(self._run(record, work))
        self._running[key] = task
        task.add_done_callback(lambda _: self._running.pop(key, None))
        return task

    def running(self, kind: str) -> list[int]:
        """Ids of this process's jobs of ``kind`` (waiting or running)."""
        return [row_id for k, row_id in self._running if k == kind]

    def cancel(self, kind: str, row_id: int) -> bool:
        """Cancel a job of this process (recorded ``CANCELLED``); whether it was one."""
        task = self._running.get((kind, row_id))
        if task is None:
            return False
        self._cancelled.add((kind, row_id))
        task.cancel()
        return True

    async def _run(self, record: JobRecord, work: Work) -> Outcome:
        progress = Progress()
        beating = asyncio.create_task(self._beat(record, progress))
        key = (record.kind, record.row_id)
        try:
            async with self._slots:
                await record.begin()
                try:
                    outcome = await work(progress)
                except GenerationFailed as exc:
                    outcome = Outcome(FAILED, rows=progress.rows, error=str(exc))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - recorded as the job's failure reason
                    log.exception("%s %s failed", record.kind, record.row_id)
                    outcome = Outcome(
                        FAILED, rows=progress.rows, error=f"internal error ({type(exc).__name__})"
                    )
        except asyncio.CancelledError:
            cancelled = key in self._cancelled
            self._cancelled.discard(key)
            stopped = Outcome(
                CANCELLED if cancelled else FAILED,
                rows=progress.rows,
                error="cancelled" if cancelled else "stopped with the process running it",
            )
            await asyncio.shield(record.finish(stopped))
            raise
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
        await record.finish(outcome)
        return outcome

    async def _beat(self, record: JobRecord, progress: Progress) -> None:
        while True:
            await asyncio.sleep(self.settings.report_heartbeat_s)
            try:
                await record.beat(progress.rows)
            except Exception:  # noqa: BLE001 - a missed beat is harmless unless six are missed
                log.warning("%s %s: heartbeat failed", record.kind, record.row_id, exc_info=True)

    async def wait(self, task: asyncio.Task[Outcome], seconds: float) -> Outcome | None:
        """The outcome if the job ends within ``seconds``; it keeps running either way."""
        done, _ = await asyncio.wait({task}, timeout=seconds)
        return task.result() if done else None

    def dead_before(self) -> datetime:
        """Jobs whose last beat is older than this belonged to a process that died."""
        return self.clock() - timedelta(seconds=self.settings.report_heartbeat_s * STALE_BEATS)

    async def sweep(self) -> tuple[int, int]:
        """Mark dead jobs ``FAILED`` and remove expired files, of every kind; (failed, removed)."""
        failed = removed = 0
        for sweeper in self.sweepers:
            dead, expired = await sweeper(self)
            failed, removed = failed + dead, removed + expired
        if failed:
            log.warning("marked %d report job(s) of stopped processes FAILED", failed)
        return failed, removed

    async def maintain(self) -> None:
        """Sweep now and then every few beats, until cancelled."""
        while True:
            try:
                await self.sweep()
            except Exception:  # noqa: BLE001 - the store may be briefly unavailable; try at the next round
                log.exception("sweeping report jobs failed")
            await asyncio.sleep(self.settings.report_heartbeat_s * 3)

    def start_maintenance(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self.maintain())

    async def close(self) -> None:
        """Stop the sweeper and the jobs (each marked ``FAILED``: stopped with the process)."""
        tasks: list[asyncio.Task[Any]] = [*self._running.values()]
        if self._sweeper is not None:
            tasks.append(self._sweeper)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


GENERATION = "report generation"


class GenerationRecord:
    """A report generation's row, and its report's latest state."""

    kind = GENERATION

    def __init__(self, jobs: ReportJobs, generation_id: int) -> None:
        self.jobs = jobs
        self.row_id = generation_id

    async def begin(self) -> None:
        return None

    async def beat(self, rows: int) -> None:
        async with self.jobs.database.session() as session:
            await session.execute(
                update(ReportGeneration)
                .where(ReportGeneration.generation_id == self.row_id)
                .values(heartbeat_at=self.jobs.clock(), rows_written=rows)
                .execution_options(synchronize_session=False)
            )

    async def finish(self, outcome: Outcome) -> None:
        now = self.jobs.clock()
        async with self.jobs.database.session() as session:
            generation = await session.get(ReportGeneration, self.row_id)
            if generation is None:
                return
            status = FAILED if outcome.status == CANCELLED else outcome.status
            generation.status = status
            generation.rows_written = outcome.rows
            generation.file_name = outcome.file_name
            generation.file_size = outcome.file_size
            generation.error = outcome.error
            generation.finished_at = now
            if status == COMPLETED:
                generation.expires_at = now + timedelta(seconds=self.jobs.settings.report_link_ttl_s)
            report = await session.get(Report, generation.report_id)
            if report is not None and not report.is_deleted:
                report.report_status = status
                if status == COMPLETED:
                    report.last_generated_at = now
                    report.report_data_url = download_path(report.report_id, self.row_id)


async def sweep_generations(jobs: ReportJobs) -> tuple[int, int]:
    now = jobs.clock()
    async with jobs.database.session() as session:
        dead = (
            await session.scalars(
                select(ReportGeneration).where(
                    ReportGeneration.status == GENERATING,
                    ReportGeneration.heartbeat_at < jobs.dead_before(),
                    ReportGeneration.generation_id.not_in(jobs.running(GENERATION)),
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
            jobs.files.remove(jobs.files.absolute(generation.file_name or ""))
            generation.file_name = None
    return len(dead), len(expired)


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
