"""Report schedules: cron expressions in a time zone (``cronsim``, which follows Debian cron across DST
changes: a time skipped by a spring-forward change runs right after it, a time repeated by a fall-back
change runs once) and the scheduler that runs due ones.

Exactly once with several schedulers on one configuration store: a scheduler claims a due schedule by
advancing its ``next_run_at`` with a compare-and-set (``UPDATE … WHERE next_run_at = <seen> AND version =
<seen>``: of concurrent claimers one updates the row) and records the run under a unique (schedule, due
time) in the same transaction; only then does it generate and deliver. A due time missed while no
scheduler ran is run once when one starts (not once per missed time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from query_api.lms_config.repository import Actor
from query_api.lms_reports.builders import ReportConfigError, report_parameters
from query_api.lms_reports.delivery import Delivered, Deliveries, DeliveryError
from query_api.lms_reports.generation import start_generation
from query_api.lms_reports.jobs import COMPLETED, FAILED, ReportJobs, signed_url
from query_api.lms_reports.writers import ExportFormat
from query_api.store import QueryStore
from schemas.config_models import Report, ReportDelivery, ReportGeneration, ReportSchedule, ScheduleRun

log = logging.getLogger(__name__)

DUE_PER_TICK = 20
RUNNING = "RUNNING"
DELIVERED = "DELIVERED"


class ScheduleError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def zone_named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError("timezone", f"unknown IANA time zone {name!r}") from exc


def next_run(cron_expression: str, timezone: str, after: datetime) -> datetime:
    """The first time after ``after`` that ``cron_expression`` names in ``timezone`` (UTC, aware).
    Raises :class:`ScheduleError` naming the field at fault."""
    zone = zone_named(timezone)
    try:
        upcoming = CronSim(cron_expression, after.astimezone(zone))
        return next(upcoming).astimezone(ZoneInfo("UTC"))
    except CronSimError as exc:
        raise ScheduleError("cron_expression", f"not a cron expression: {exc}") from exc
    except StopIteration as exc:  # e.g. 30 February
        raise ScheduleError("cron_expression", "this cron expression never matches a date") from exc


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


class Scheduler:
    """Runs the due schedules of every tenant, each due time once across every scheduler of the store."""

    def __init__(
        self,
        jobs: ReportJobs,
        store: QueryStore,
        deliveries: Deliveries,
        zone_of: Callable[[str], Awaitable[ZoneInfo]],
        runner: str | None = None,
    ) -> None:
        self.jobs = jobs
        self.store = store
        self.deliveries = deliveries
        self.zone_of = zone_of
        self.runner = runner or runner_name()

    async def tick(self) -> list[int]:
        """Resume runs of schedulers that died, then claim and run what is due now; the runs this
        scheduler made or resumed."""
        made = await self._resume_dead_runs()
        now = self.jobs.clock()
        async with self.jobs.database.session() as session:
            due = (
                await session.scalars(
                    select(ReportSchedule)
                    .where(
                        ReportSchedule.is_enabled.is_(True),
                        ReportSchedule.is_deleted.is_(False),
                        ReportSchedule.next_run_at <= now,
                    )
                    .order_by(ReportSchedule.next_run_at)
                    .limit(DUE_PER_TICK)
                )
            ).all()
        for schedule in due:
            run_id = await self._claim(schedule, now)
            if run_id is not None:
                made.append(run_id)
                await self._run(schedule, run_id)
        return made

    async def _claim(self, schedule: ReportSchedule, now: datetime) -> int | None:
        due_at = schedule.next_run_at
        assert due_at is not None
        try:
            following = next_run(schedule.cron_expression, schedule.timezone, now)
        except ScheduleError:
            following = None
        try:
            async with self.jobs.database.session() as session:
                claimed = await session.execute(
                    update(ReportSchedule)
                    .where(
                        ReportSchedule.schedule_id == schedule.schedule_id,
                        ReportSchedule.next_run_at == due_at,
                        ReportSchedule.version == schedule.version,
                    )
                    .values(next_run_at=following, last_run_at=now, version=schedule.version + 1)
                    .execution_options(synchronize_session=False)
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    return None  # another scheduler took it (or it changed): theirs to run
                run = ScheduleRun(
                    tenant_id=schedule.tenant_id,
                    schedule_id=schedule.schedule_id,
                    due_at=due_at,
                    started_at=now,
                    runner=self.runner,
                    status=RUNNING,
                    heartbeat_at=now,
                )
                session.add(run)
                await session.flush()
                return run.run_id
        except IntegrityError:
            return None  # this due time was run already

    async def _resume_dead_runs(self) -> list[int]:
        """Take over ``RUNNING`` runs whose scheduler stopped beating (compare-and-set on the beat, so one
        scheduler resumes each) and finish them."""
        async with self.jobs.database.session() as session:
            dead = (
                await session.scalars(
                    select(ScheduleRun)
                    .where(ScheduleRun.status == RUNNING, ScheduleRun.heartbeat_at < self.jobs.dead_before())
                    .order_by(ScheduleRun.run_id)
                    .limit(DUE_PER_TICK)
                )
            ).all()
        resumed = []
        for run in dead:
            async with self.jobs.database.session() as session:
                taken = await session.execute(
                    update(ScheduleRun)
                    .where(
                        ScheduleRun.run_id == run.run_id,
                        ScheduleRun.status == RUNNING,
                        ScheduleRun.heartbeat_at == run.heartbeat_at,
                    )
                    .values(heartbeat_at=self.jobs.clock(), runner=self.runner)
                    .execution_options(synchronize_session=False)
                )
                schedule = await session.get(ReportSchedule, run.schedule_id)
            if taken.rowcount != 1 or schedule is None:  # type: ignore[attr-defined]
                continue
            log.warning("resuming scheduled run %s of a scheduler that stopped (%s)", run.run_id, run.runner)
            resumed.append(run.run_id)
            await self._run(schedule, run.run_id)
        return resumed

    async def _beat(self, run_id: int) -> None:
        while True:
            await asyncio.sleep(self.jobs.settings.report_heartbeat_s)
            async with self.jobs.database.session() as session:
                await session.execute(
                    update(ScheduleRun)
                    .where(ScheduleRun.run_id == run_id, ScheduleRun.runner == self.runner)
                    .values(heartbeat_at=self.jobs.clock())
                    .execution_options(synchronize_session=False)
                )

    async def _run(self, schedule: ReportSchedule, run_id: int) -> None:
        status = FAILED
        beating = asyncio.create_task(self._beat(run_id))
        try:
            status = await self._generate_and_deliver(schedule, run_id)
        except Exception:  # noqa: BLE001 - recorded on the run; the scheduler goes on with the others
            log.exception("scheduled run %s of schedule %s failed", run_id, schedule.schedule_id)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
        async with self.jobs.database.session() as session:
            run = await session.get(ScheduleRun, run_id)
            if run is not None:
                run.status, run.finished_at = status, self.jobs.clock()

    async def _generate_and_deliver(self, schedule: ReportSchedule, run_id: int) -> str:
        config = schedule.schedule_config or {}
        async with self.jobs.database.session() as session:
            report = await session.get(Report, schedule.report_id)
        if report is None or report.is_deleted:
            return FAILED
        try:
            parameters = report_parameters(report.report_config, config.get("parameters"))
        except ReportConfigError:
            return FAILED
        fmt = ExportFormat(config.get("format", ExportFormat.PDF.value))
        zone = await self.zone_of(schedule.tenant_id)
        actor = Actor(schedule.tenant_id, f"schedule:{schedule.schedule_id}", "")
        generation_id, task = await start_generation(
            self.jobs,
            self.store,
            report,
            actor,
            fmt,
            parameters,
            zone,
            self.jobs.clock().astimezone(zone).date(),
        )
        async with self.jobs.database.session() as session:
            run = await session.get(ScheduleRun, run_id)
            assert run is not None
            run.generation_id = generation_id
        outcome = await task
        async with self.jobs.database.session() as session:
            generation = await session.get(ReportGeneration, generation_id)
        assert generation is not None
        if outcome.status != COMPLETED or generation.file_name is None:
            await self._notify_webhooks(config, None, run_id, outcome.status)
            return FAILED
        url = signed_url(self.jobs.settings.public_url, self.jobs.files, generation) or ""
        params = generation.parameters
        item = Delivered(
            report_name=report.report_name,
            report_id=report.report_id,
            schedule_id=schedule.schedule_id,
            generation_id=generation_id,
            fmt=fmt,
            path=self.jobs.files.absolute(generation.file_name),
            url=url,
            period=" ".join(
                f"{k}={v}" for k, v in sorted(params.items()) if k in ("period", "startDate", "endDate")
            )
            or "the last 30 days",
            generated_at=(generation.finished_at or self.jobs.clock()).isoformat(),
        )
        async with self.jobs.database.session() as session:
            found = await session.execute(
                select(ReportDelivery.channel, ReportDelivery.recipient).where(
                    ReportDelivery.run_id == run_id, ReportDelivery.status == DELIVERED
                )
            )
            reached = {(str(channel), str(recipient)) for channel, recipient in found}
        results = [
            await self._deliver(run_id, "email", str(address), self.deliveries.email(str(address), item))
            for address in schedule.recipients
            if ("email", str(address)) not in reached
        ]
        hooks = [h for h in config.get("webhooks") or [] if ("webhook", str(h)) not in reached]
        results.append(await self._notify_webhooks({"webhooks": hooks}, item, run_id, COMPLETED))
        return COMPLETED if all(results) else FAILED

    async def _notify_webhooks(
        self, config: dict[str, object], item: Delivered | None, run_id: int, status: str
    ) -> bool:
        hooks = config.get("webhooks") or []
        assert isinstance(hooks, list)
        if item is None:
            return not hooks
        return all(
            [
                await self._deliver(
                    run_id, "webhook", str(url), self.deliveries.webhook(str(url), item, status)
                )
                for url in hooks
            ]
        )

    async def _deliver(self, run_id: int, channel: str, recipient: str, sending: Awaitable[int]) -> bool:
        """Await ``sending`` and record the recipient's delivery; whether it went."""
        error: str | None = None
        attempts = self.deliveries.settings.delivery_attempts
        try:
            attempts = await sending
        except DeliveryError as exc:
            error = str(exc)
        async with self.jobs.database.session() as session:
            session.add(
                ReportDelivery(
                    run_id=run_id,
                    channel=channel,
                    recipient=recipient[:500],
                    status=FAILED if error else DELIVERED,
                    attempts=attempts,
                    error=error,
                    delivered_at=None if error else self.jobs.clock(),
                )
            )
        return error is None

    async def run_forever(self) -> None:
        """Tick every ``scheduler_tick_s`` until cancelled (a failing tick is logged and retried)."""
        while True:
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - the store may be briefly unavailable
                log.exception("scheduler tick failed")
            await asyncio.sleep(self.jobs.settings.scheduler_tick_s)
