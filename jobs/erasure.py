"""GDPR deletion of one user's data (``DELETE /analytics/privacy/users/{user_id}``), run as a job.

Scheduling records a job (``privacy_jobs``) and a *suppression* (``user_suppressions``): once a writer has
seen it — workers re-read suppressions with the tracking preferences every ``ANALYTICS_WORKER_ZONE_REFRESH_S``
— the user's events are dropped at the transform step like an opted-out user's, so events still in flight
(queued in Kafka, in a batch being re-formed, in a dead letter replayed later) cannot bring the user back.

A job is run (``analytics privacy-jobs --pending``, or ``analytics dev``'s upkeep) only once every writer
has seen its suppression (the caller's ``ready`` rule says when), then:

1. ``running``; the user's rows are deleted from every raw table and every rollup table keyed by user (every
   grain and bucket, also buckets whose raw rows are already gone), with mutations that rewrite the parts
   (``ALTER TABLE ... DELETE``, ``mutations_sync``), so the rows leave the disk instead of being only hidden;
2. rollups *not* keyed by user (none today) are recomputed from the raw tables over the user's days;
3. the deletions run once more, for rows a writer with an older snapshot stored meanwhile;
4. the suppression is closed (``until`` = now + a clock-skew margin: events the gateway received before it
   stay dropped for good, later ones are new data) and the job marked ``done`` — or ``failed`` with the
   reason, the suppression left open so nothing of the user is stored until a new request succeeds.

Each step is idempotent, so a job whose process died (``running``, no progress for ``stale_after``) is run
again from the start. Every outcome is written to the audit log.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from clickhouse_connect.driver.client import Client

from jobs.rebuild import rebuild_rollups
from plumbing.settings import ZoneLookup
from plumbing.tenant_store import stored_time_zones
from schemas.rollups import ROLLUPS, Rollup
from schemas.rows import RAW_TABLES
from schemas.times import as_utc, later_than, stored_now
from schemas.topics import DAY_MS, DEAD_LETTER_RETENTION_MS, DEFAULT_RETENTION_MS, Stream
from security import audit

log = logging.getLogger(__name__)

JOBS_TABLE = "privacy_jobs"
SUPPRESSIONS_TABLE = "user_suppressions"
DELETE_KIND = "delete"

UNTIL_MARGIN = timedelta(seconds=60)
"""Added to a finished job's time to close its suppression: a gateway whose clock runs this much ahead
still stamps the events it received before the job finished as earlier than ``until``."""
STALE_AFTER = timedelta(minutes=10)
"""A ``running`` job that made no progress for this long belongs to a dead process: it is run again."""
SETTLE_MARGIN_S = 10.0
"""Distributed: beyond the workers' refresh interval, how old a suppression must be before its job runs
(a batch filtered just before a refresh still has to be written)."""
SUPPRESSION_HORIZON = timedelta(milliseconds=max(DEFAULT_RETENTION_MS, DEAD_LETTER_RETENTION_MS) + DAY_MS)
"""How long after a deletion its suppression still applies: an event received before it can reappear from
Kafka or a replayed dead letter until their retention has passed, never later."""

RAW_TABLE_NAMES: tuple[str, ...] = tuple(RAW_TABLES.values())
PER_USER_ROLLUP_TABLES: tuple[str, ...] = tuple(
    item.table for item in ROLLUPS if "user_id" in item.dimensions
)
"""Rollup tables keyed by user: the user's rows are deleted, nobody else's bucket is touched."""


def tenant_wide_rollups() -> list[Rollup]:
    """Rollups that aggregate users together (no ``user_id`` dimension): recomputed after a deletion."""
    return [item for item in ROLLUPS if "user_id" not in item.dimensions]


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


OPEN_STATUSES = (JobStatus.PENDING, JobStatus.RUNNING)

_JOB_COLUMNS = (
    "tenant_id",
    "id",
    "user_id",
    "kind",
    "status",
    "requested_by",
    "requested_at",
    "updated_at",
    "raw_rows",
    "rollup_rows",
    "detail",
)
_SELECT_JOB = (
    "SELECT tenant_id, toString(id), user_id, toString(kind), toString(status), requested_by, requested_at, "
    f"updated_at, raw_rows, rollup_rows, detail FROM {JOBS_TABLE} FINAL"
)
_SUPPRESSION_COLUMNS = ("tenant_id", "user_id", "job_id", "since", "until", "updated_at")
_SELECT_SUPPRESSION = (
    f"SELECT tenant_id, user_id, toString(job_id), since, until FROM {SUPPRESSIONS_TABLE} FINAL"
)


@dataclass(frozen=True)
class PrivacyJob:
    tenant_id: str
    id: str
    user_id: str
    status: JobStatus
    requested_by: str
    requested_at: datetime
    updated_at: datetime
    raw_rows: int = 0
    rollup_rows: int = 0
    detail: str = ""
    kind: str = DELETE_KIND

    @classmethod
    def of_row(cls, row: Sequence[Any]) -> PrivacyJob:
        tenant, job_id, user, kind, status, by, requested, updated, raw, rollups, detail = row
        return cls(
            str(tenant),
            str(job_id),
            str(user),
            JobStatus(status),
            str(by),
            as_utc(requested),
            as_utc(updated),
            int(raw),
            int(rollups),
            str(detail),
            str(kind),
        )

    def row(self) -> list[Any]:
        return [
            self.tenant_id,
            uuid.UUID(self.id),
            self.user_id,
            self.kind,
            self.status.value,
            self.requested_by,
            self.requested_at,
            self.updated_at,
            self.raw_rows,
            self.rollup_rows,
            self.detail,
        ]


@dataclass(frozen=True)
class Suppression:
    """Events of ``user_id`` received up to ``until`` (all of them while ``until`` is None) are dropped."""

    tenant_id: str
    user_id: str
    job_id: str
    since: datetime
    until: datetime | None = None

    def drops(self, received_at: datetime) -> bool:
        return self.until is None or as_utc(received_at) <= self.until

    @classmethod
    def of_row(cls, row: Sequence[Any]) -> Suppression:
        tenant, user, job_id, since, until = row
        return cls(
            str(tenant), str(user), str(job_id), as_utc(since), None if until is None else as_utc(until)
        )


# ---- jobs and suppressions (synchronous clickhouse-connect calls; async callers run them in a thread) ----


def _write_job(client: Client, job: PrivacyJob) -> None:
    client.insert(JOBS_TABLE, [job.row()], column_names=list(_JOB_COLUMNS))


def _write_suppression(client: Client, suppression: Suppression, updated_at: datetime) -> None:
    row = [
        suppression.tenant_id,
        suppression.user_id,
        uuid.UUID(suppression.job_id),
        suppression.since,
        suppression.until,
        updated_at,
    ]
    client.insert(SUPPRESSIONS_TABLE, [row], column_names=list(_SUPPRESSION_COLUMNS))


def privacy_job(client: Client, tenant_id: str, job_id: str) -> PrivacyJob | None:
    """The job's latest state, if it is one of ``tenant_id``'s (another tenant's id finds nothing)."""
    rows = client.query(
        f"{_SELECT_JOB} WHERE tenant_id = {{tenant:String}} AND id = {{id:UUID}}",
        parameters={"tenant": tenant_id, "id": job_id},
    ).result_rows
    return PrivacyJob.of_row(rows[0]) if rows else None


def privacy_jobs(
    client: Client,
    statuses: Iterable[JobStatus] | None = None,
    tenant_id: str | None = None,
    user_id: str | None = None,
) -> list[PrivacyJob]:
    """Jobs in their latest state, newest first, optionally of some statuses, one tenant, one user."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    if statuses is not None:
        conditions.append("status IN {statuses:Array(String)}")
        params["statuses"] = [s.value for s in statuses]
    if tenant_id is not None:
        conditions.append("tenant_id = {tenant:String}")
        params["tenant"] = tenant_id
    if user_id is not None:
        conditions.append("user_id = {user:String}")
        params["user"] = user_id
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = client.query(f"{_SELECT_JOB}{where} ORDER BY requested_at DESC, id", parameters=params).result_rows
    return [PrivacyJob.of_row(row) for row in rows]


def user_suppression(client: Client, tenant_id: str, user_id: str) -> Suppression | None:
    rows = client.query(
        f"{_SELECT_SUPPRESSION} WHERE tenant_id = {{tenant:String}} AND user_id = {{user:String}}",
        parameters={"tenant": tenant_id, "user": user_id},
    ).result_rows
    return Suppression.of_row(rows[0]) if rows else None


def active_suppressions(client: Client) -> list[Suppression]:
    """The suppressions a writer must apply: open ones, and closed ones within :data:`SUPPRESSION_HORIZON`."""
    rows = client.query(
        f"{_SELECT_SUPPRESSION} WHERE until IS NULL OR until > {{horizon:DateTime64(3, 'UTC')}}",
        parameters={"horizon": stored_now() - SUPPRESSION_HORIZON},
    ).result_rows
    return [Suppression.of_row(row) for row in rows]


def schedule_deletion(
    client: Client, tenant_id: str, user_id: str, requested_by: str
) -> tuple[PrivacyJob, bool]:
    """The user's pending or running deletion if there is one (``False``), else a new job and its
    suppression (``True``). The job is written first: a crash in between leaves a job whose runner records
    the missing suppression (:func:`run_pending_deletions`), never a suppression nobody closes."""
    unfinished = privacy_jobs(client, OPEN_STATUSES, tenant_id, user_id)
    if unfinished:
        return unfinished[0], False
    now = stored_now()
    job = PrivacyJob(tenant_id, str(uuid.uuid4()), user_id, JobStatus.PENDING, requested_by, now, now)
    _write_job(client, job)
    _write_suppression(client, Suppression(tenant_id, user_id, job.id, now), now)
    return job, True


def _mark(
    client: Client,
    job: PrivacyJob,
    status: JobStatus,
    detail: str,
    raw_rows: int | None = None,
    rollup_rows: int | None = None,
) -> PrivacyJob:
    """Write the job's next state (also the heartbeat of a running job: ``updated_at`` moves)."""
    updated = replace(
        job,
        status=status,
        detail=detail,
        updated_at=later_than(job.updated_at),
        raw_rows=job.raw_rows if raw_rows is None else raw_rows,
        rollup_rows=job.rollup_rows if rollup_rows is None else rollup_rows,
    )
    _write_job(client, updated)
    return updated


# ---- the deletion ----------------------------------------------------------------------------------


def _count(client: Client, table: str, tenant_id: str, user_id: str) -> int:
    rows = client.query(
        f"SELECT count() FROM {table} WHERE tenant_id = {{tenant:String}} AND user_id = {{user:String}}",
        parameters={"tenant": tenant_id, "user": user_id},
    ).result_rows
    return int(rows[0][0])


def purge(client: Client, table: str, tenant_id: str, user_id: str) -> int:
    """Delete the user's rows of ``table`` from disk (a mutation rewriting the parts that hold them; waits
    for it); returns how many there were. Nothing to delete costs one count."""
    found = _count(client, table, tenant_id, user_id)
    if found:
        client.command(
            f"ALTER TABLE {table} DELETE WHERE tenant_id = {{tenant:String}} AND user_id = {{user:String}}",
            parameters={"tenant": tenant_id, "user": user_id},
            settings={"mutations_sync": 2},
        )
    return found


def user_days(client: Client, tenant_id: str, user_id: str) -> tuple[date, date] | None:
    """First and last UTC day of the user's raw rows, over every raw table."""
    parts = [
        f"SELECT {'date' if stream is Stream.USAGE else 'toDate(timestamp)'} AS d FROM {table} "
        "WHERE tenant_id = {tenant:String} AND user_id = {user:String}"
        for stream, table in RAW_TABLES.items()
    ]
    rows = client.query(
        f"SELECT min(d), max(d), count() FROM ({' UNION ALL '.join(parts)})",
        parameters={"tenant": tenant_id, "user": user_id},
    ).result_rows
    first, last, count = rows[0]
    return (first, last) if count else None


@dataclass(frozen=True)
class ErasureReport:
    raw_rows: int
    rollup_rows: int
    late_raw_rows: int
    """Stored meanwhile by a writer with an older snapshot (deleted by the last pass)."""
    late_rollup_rows: int
    recomputed_days: tuple[date, date] | None


StepHook = Callable[[str], None]
"""Called after each step with its name (``raw``, ``rollups``, ``late``): progress logging, and tests that
make a writer with a stale snapshot store a row mid-job."""


def erase_user(
    client: Client,
    job: PrivacyJob,
    zones: ZoneLookup,
    recompute: bool | None = None,
    on_step: StepHook | None = None,
) -> tuple[PrivacyJob, ErasureReport]:
    """Steps 1-3 of the module docstring; returns the job (still ``running``, heartbeat moved) and what was
    deleted. ``recompute``: rebuild the tenant's rollups over the user's days from raw (default: only when a
    rollup is not keyed by user)."""
    step = on_step or (lambda _: None)
    tenant, user = job.tenant_id, job.user_id
    recompute = bool(tenant_wide_rollups()) if recompute is None else recompute
    days = user_days(client, tenant, user) if recompute else None
    job = _mark(client, job, JobStatus.RUNNING, "deleting raw rows")
    raw = sum(purge(client, table, tenant, user) for table in RAW_TABLE_NAMES)
    step("raw")
    job = _mark(client, job, JobStatus.RUNNING, "deleting rollup rows")
    rollups = sum(purge(client, table, tenant, user) for table in PER_USER_ROLLUP_TABLES)
    recomputed = None
    if days is not None:  # one day of margin: a tenant-local day reaches into the neighbouring UTC days
        recomputed = (days[0] - timedelta(days=1), days[1] + timedelta(days=1))
        zones.use_stored(stored_time_zones(client))
        rebuild_rollups(client, recomputed[0], recomputed[1], zones, tenant=tenant)
    step("rollups")
    job = _mark(client, job, JobStatus.RUNNING, "deleting rows stored meanwhile")
    late_raw = sum(purge(client, table, tenant, user) for table in RAW_TABLE_NAMES)
    late_rollups = sum(purge(client, table, tenant, user) for table in PER_USER_ROLLUP_TABLES)
    step("late")
    return job, ErasureReport(raw, rollups, late_raw, late_rollups, recomputed)


@dataclass(frozen=True)
class JobOutcome:
    id: str
    tenant_id: str
    user_id: str
    status: JobStatus
    raw_rows: int
    rollup_rows: int


Ready = Callable[[PrivacyJob, Suppression], bool]
"""Whether every writer has seen ``suppression`` (open, recorded for the job's user), so the job may run."""


def older_than(seconds: float) -> Ready:
    """Distributed workers refresh suppressions every ``seconds`` at most: one this old is seen by all."""

    def ready(_: PrivacyJob, suppression: Suppression) -> bool:
        return suppression.since <= stored_now() - timedelta(seconds=seconds)

    return ready


def run_pending_deletions(
    client: Client,
    zones: ZoneLookup,
    ready: Ready,
    stale_after: timedelta = STALE_AFTER,
    until_margin: timedelta = UNTIL_MARGIN,
    recompute: bool | None = None,
    on_step: StepHook | None = None,
) -> list[JobOutcome]:
    """Run every pending job (and every ``running`` one without progress for ``stale_after``) whose
    suppression ``ready`` accepts, oldest first; the others wait for a later call. A job that fails is
    marked ``failed`` with the reason and the next one still runs."""
    outcomes = []
    for job in reversed(privacy_jobs(client, OPEN_STATUSES)):
        if job.status is JobStatus.RUNNING and stored_now() - job.updated_at < stale_after:
            continue  # another runner's, alive
        suppression = user_suppression(client, job.tenant_id, job.user_id)
        if suppression is None or suppression.until is not None:
            # written first by schedule_deletion: a crash came between; writers must see it before we run
            now = stored_now()
            _write_suppression(client, Suppression(job.tenant_id, job.user_id, job.id, now), now)
            continue
        if not ready(job, suppression):
            continue
        outcomes.append(_run(client, job, suppression, zones, until_margin, recompute, on_step))
    return outcomes


def _run(
    client: Client,
    job: PrivacyJob,
    suppression: Suppression,
    zones: ZoneLookup,
    until_margin: timedelta,
    recompute: bool | None,
    on_step: StepHook | None,
) -> JobOutcome:
    try:
        job, report = erase_user(client, job, zones, recompute, on_step)
    except Exception as exc:  # noqa: BLE001 - the job records why; the suppression stays open
        log.exception("privacy job %s (%s/%s) failed", job.id, job.tenant_id, job.user_id)
        # the status endpoint shows this to admins and services: the error class only, not ClickHouse's
        # message (it may quote SQL or data); the log above has everything
        job = _mark(client, job, JobStatus.FAILED, f"{type(exc).__name__} (see the job runner's log)")
        _audit(client, job, audit.Outcome.FAILED)
        return JobOutcome(job.id, job.tenant_id, job.user_id, job.status, 0, 0)
    if suppression.job_id == job.id:  # else a newer request's suppression: its own job closes it
        now = stored_now()
        _write_suppression(client, replace(suppression, until=now + until_margin), later_than(now))
    raw = report.raw_rows + report.late_raw_rows
    rollups = report.rollup_rows + report.late_rollup_rows
    detail = f"{raw} raw and {rollups} rollup rows deleted"
    if report.late_raw_rows or report.late_rollup_rows:
        late = report.late_raw_rows + report.late_rollup_rows
        detail += f" ({late} of them stored meanwhile by writers that had not seen the suppression yet)"
    if report.recomputed_days is not None:
        detail += f"; rollups recomputed {report.recomputed_days[0]}..{report.recomputed_days[1]}"
    job = _mark(client, job, JobStatus.DONE, detail, raw_rows=raw, rollup_rows=rollups)
    _audit(client, job, audit.Outcome.SUCCEEDED)
    log.info("privacy job %s: %s of %s/%s", job.id, detail, job.tenant_id, job.user_id)
    return JobOutcome(job.id, job.tenant_id, job.user_id, job.status, raw, rollups)


def _audit(client: Client, job: PrivacyJob, outcome: audit.Outcome) -> None:
    """The deletion's outcome, on the requester's name (the request itself was audited as accepted)."""
    entry = audit.AuditEntry(
        job.tenant_id,
        job.requested_by,
        (),
        "delete_user",
        job.user_id,
        f"/analytics/privacy/jobs/{job.id}",
        "",
        outcome,
        job.detail,
    )
    client.insert(audit.TABLE, [entry.row()], column_names=audit.COLUMNS)


# ---- `analytics privacy-jobs --pending` ------------------------------------------------------------


def run_pending_cli(
    client: Client,
    zones: ZoneLookup,
    wait_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> list[JobOutcome]:
    """Run the ripe jobs; if younger ones remain, wait until they ripen (at most ``wait_s``) and run again,
    so a request is carried out by the next scheduled run, not the one after."""
    ready = older_than(wait_s)
    outcomes = run_pending_deletions(client, zones, ready)
    waiting = privacy_jobs(client, (JobStatus.PENDING,))
    if waiting:
        youngest = max(job.requested_at for job in waiting)
        sleep(
            max(0.0, min(wait_s, (youngest + timedelta(seconds=wait_s) - stored_now()).total_seconds())) + 0.5
        )
        outcomes += run_pending_deletions(client, zones, ready)
    return outcomes


def _cmd_privacy_jobs(args: argparse.Namespace) -> int:
    from plumbing.clickhouse import open_for_command
    from stream_processors.settings import WorkerSettings

    if not args.pending:
        print("privacy-jobs: say --pending to run the requested deletions", file=sys.stderr)
        return 2
    settings = WorkerSettings()
    wait_s = args.wait_s if args.wait_s is not None else settings.worker_zone_refresh_s + SETTLE_MARGIN_S
    client = open_for_command(settings.clickhouse_url, settings.clickhouse_database)
    try:
        outcomes = run_pending_cli(client, settings.zone_lookup(), wait_s)
    finally:
        client.close()
    for outcome in outcomes:
        print(
            f"{outcome.status.value} {outcome.id} ({outcome.tenant_id}/{outcome.user_id}: "
            f"{outcome.raw_rows} raw, {outcome.rollup_rows} rollup rows)"
        )
    print(f"{len(outcomes)} privacy job(s) run")
    return 1 if any(o.status is JobStatus.FAILED for o in outcomes) else 0


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``privacy-jobs --pending`` on the ``analytics`` command's subparsers (sets ``handler``)."""
    jobs = subparsers.add_parser(
        "privacy-jobs", help="carry out the GDPR deletions requested through the query API"
    )
    jobs.add_argument("--pending", action="store_true", help="run every pending deletion")
    jobs.add_argument(
        "--wait-s",
        type=float,
        help="how old a deletion's suppression must be before it runs: every worker must have seen it "
        f"(default: ANALYTICS_WORKER_ZONE_REFRESH_S + {SETTLE_MARGIN_S:.0f})",
    )
    jobs.set_defaults(handler=_cmd_privacy_jobs)
