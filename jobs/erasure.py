"""GDPR deletion of one user's data (``DELETE /analytics/privacy/users/{user_id}``), run as a job.

Scheduling records a job (``privacy_jobs``, :mod:`jobs.erasure_queue`) and a *suppression*
(``user_suppressions``, :mod:`privacy.suppressions`): once a writer has seen it — workers re-read
suppressions with the tracking preferences every ``ANALYTICS_WORKER_ZONE_REFRESH_S`` — the user's events
are dropped at the transform step like an opted-out user's, so events still in flight (queued in Kafka, in
a batch being re-formed, in a dead letter replayed later) cannot bring the user back.

A job is run (``analytics privacy-jobs --pending``, or ``analytics dev``'s upkeep) only once every writer
has seen its suppression (the caller's ``ready`` rule says when), then:

1. ``running``; the user's rows are deleted from every table of people's data (:mod:`privacy.personal_data`:
   the product's raw tables, LMS activity and entity upserts, the LMS current-state tables of people) and
   from every rollup table keyed by user (every grain and bucket, also buckets whose raw rows are already
   gone) and every copy of raw rows kept in another order (``lms_video_sessions``), with mutations that
   rewrite the parts (``ALTER TABLE ... DELETE``, ``mutations_sync``), so the rows leave the disk instead of
   being only hidden. An LMS teacher's id is also removed from other people's rows that name them
   (``graded_by`` of students' attempts, ``teacher_ids`` of courses: :data:`TEACHER_MENTIONS`), which stay;
2. personal rollups *not* keyed by user (none today) are recomputed from the raw tables over the user's days;
   rollups without people in them (``Rollup.personal`` false: LMS platform telemetry) are left alone;
3. the deletions run once more, for rows a writer with an older snapshot stored meanwhile;
4. the suppression is closed (``until`` = now + a clock-skew margin: events the gateway received before it
   stay dropped for good, later ones are new data) and the job marked ``done`` — or ``failed`` with the
   reason, the suppression left open so nothing of the user is stored until a new request succeeds.

Each step is idempotent, so a job whose process died (``running``, no progress for ``stale_after``) is run
again from the start. Every outcome is written to the audit log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta

from clickhouse_connect.driver.client import Client

from jobs.erasure_queue import OPEN_STATUSES, JobStatus, PrivacyJob, mark_job, privacy_jobs
from jobs.rebuild import rebuild_rollups
from jobs.retention_tables import RAW_RETAINED
from plumbing.settings import ZoneLookup
from plumbing.tenant_store import stored_time_zones
from privacy.personal_data import (
    PER_USER_COPY_TABLES,
    PERSONAL_RAW_TABLES,
    PERSONAL_STATE_TABLES,
    tenant_wide_rollups,
)
from privacy.personal_data import PER_USER_ROLLUP_TABLES as PER_USER_ROLLUP_TABLES  # long imported from here
from privacy.suppressions import Suppression, user_suppression, write_suppression
from schemas.lms_payloads import MAX_LMS_ID, UserType
from schemas.lms_rows import LMS_RAW_TABLES, LMS_STATE_TABLES
from schemas.times import later_than, stored_now
from schemas.topics import Stream
from security import audit

log = logging.getLogger(__name__)

DERIVED_TABLES = (*PER_USER_ROLLUP_TABLES, *PER_USER_COPY_TABLES)
"""Where a person's rows are derived from their raw rows: deleted after those, counted as rollup rows."""
UNTIL_MARGIN = timedelta(seconds=60)
"""Added to a finished job's time to close its suppression: a gateway whose clock runs this much ahead
still stamps the events it received before the job finished as earlier than ``until``."""
STALE_AFTER = timedelta(minutes=10)
"""A ``running`` job that made no progress for this long belongs to a dead process: it is run again."""


@dataclass(frozen=True)
class Mention:
    """Rows of *other* subjects naming a teacher (``{teacher:UInt64}`` in the SQL): ``condition`` finds them,
    ``assignment`` (an ``ALTER TABLE ... UPDATE`` clause) removes the id and keeps the row."""

    table: str
    condition: str
    assignment: str


_DOCUMENT_TEACHERS = "JSONExtract(document, 'teacher_ids', 'Array(UInt64)')"


def _teacher_ids_text(ids: str) -> str:
    """SQL of the text ``orjson`` writes for the key and array ``ids``: ``"teacher_ids":[4,7]``."""
    return f"""concat('"teacher_ids":[', arrayStringConcat(arrayMap(t -> toString(t), {ids}), ','), ']')"""


_WITHOUT_TEACHER = "arrayFilter(t -> t != {teacher:UInt64}, %s)"
TEACHER_MENTIONS: tuple[Mention, ...] = (
    Mention(LMS_RAW_TABLES[Stream.LMS_ACTIVITY], "graded_by = {teacher:UInt64}", "graded_by = 0"),
    Mention(
        LMS_STATE_TABLES["course"],
        "has(teacher_ids, {teacher:UInt64})",
        f"teacher_ids = {_WITHOUT_TEACHER % 'teacher_ids'}",
    ),
    Mention(
        LMS_RAW_TABLES[Stream.LMS_ENTITIES],
        f"type = 'course' AND has({_DOCUMENT_TEACHERS}, {{teacher:UInt64}})",
        f"document = replaceOne(document, {_teacher_ids_text(_DOCUMENT_TEACHERS)}, "
        f"{_teacher_ids_text(_WITHOUT_TEACHER % _DOCUMENT_TEACHERS)})",
    ),
)
"""Where an LMS teacher's id appears in rows that are not the teacher's: ``graded_by`` of students' attempt
snapshots (0 = none, as a snapshot without a grader), the course's ``teacher_ids`` in its current state and
in the JSON document of its raw upserts (written by ``orjson``, compact: the array's text is
``"teacher_ids":[4,7]``, while a title quoting that text is stored escaped, ``\\"``, and never matches).
Scores, courses and upserts stay: they are the students' and the platform's data. Rollups hold no grader or
teacher list."""


def lms_teacher(user_id: str) -> int | None:
    """The LMS id of a teacher's subject key (``teacher:4`` → 4); ``None`` for anyone else."""
    kind, _, ident = user_id.partition(":")
    if kind != UserType.TEACHER or not ident.isascii() or not ident.isdigit():
        return None
    value = int(ident)
    return value if 1 <= value <= MAX_LMS_ID and str(value) == ident else None


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


def unmention(client: Client, mention: Mention, tenant_id: str, teacher: int) -> int:
    """Remove ``teacher``'s id from the tenant's rows of ``mention.table`` that name it (a mutation; waits
    for it); returns how many rows named it. Nothing to change costs one count."""
    where = f"tenant_id = {{tenant:String}} AND {mention.condition}"
    params: dict[str, str | int] = {"tenant": tenant_id, "teacher": teacher}
    counted = client.query(f"SELECT count() FROM {mention.table} WHERE {where}", parameters=params)
    found = int(counted.result_rows[0][0])
    if found:
        client.command(
            f"ALTER TABLE {mention.table} UPDATE {mention.assignment} WHERE {where}",
            parameters=params,
            settings={"mutations_sync": 2},
        )
    return found


_DAY_OF = {
    table.name: f"toDate({table.column})" if table.is_datetime else table.column for table in RAW_RETAINED
}


def user_days(client: Client, tenant_id: str, user_id: str) -> tuple[date, date] | None:
    """First and last UTC day of the user's raw rows, over every raw table holding people's events."""
    parts = [
        f"SELECT {_DAY_OF[table]} AS d FROM {table} "
        "WHERE tenant_id = {tenant:String} AND user_id = {user:String}"
        for table in PERSONAL_RAW_TABLES
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
    """Rows of the raw tables and of the LMS current-state tables (stored facts, not aggregates)."""
    rollup_rows: int
    """Rows of the per-user rollups and of the copies of raw rows (:data:`DERIVED_TABLES`)."""
    late_raw_rows: int
    """Stored meanwhile by a writer with an older snapshot (deleted by the last pass)."""
    late_rollup_rows: int
    recomputed_days: tuple[date, date] | None
    mentions: int = 0
    """Rows of other subjects from which an LMS teacher's id was removed (both passes)."""


StepHook = Callable[[str], None]
"""Called after each step with its name (``raw``, ``rollups``, ``late``): progress logging, and tests that
make a writer with a stale snapshot store a row mid-job."""


def _facts(client: Client, tenant_id: str, user_id: str, teacher: int | None) -> tuple[int, int]:
    """One pass over the stored facts: the user's raw and current-state rows deleted, and (a teacher) the
    rows of others naming them unmentioned; returns both counts."""
    deleted = sum(
        purge(client, table, tenant_id, user_id) for table in (*PERSONAL_RAW_TABLES, *PERSONAL_STATE_TABLES)
    )
    if teacher is None:
        return deleted, 0
    return deleted, sum(unmention(client, m, tenant_id, teacher) for m in TEACHER_MENTIONS)


def erase_user(
    client: Client,
    job: PrivacyJob,
    zones: ZoneLookup,
    recompute: bool | None = None,
    on_step: StepHook | None = None,
) -> tuple[PrivacyJob, ErasureReport]:
    """Steps 1-3 of the module docstring; returns the job (still ``running``, heartbeat moved) and what was
    deleted. ``recompute``: rebuild the tenant's rollups over the user's days from raw (default: only when a
    personal rollup is not keyed by user)."""
    step = on_step or (lambda _: None)
    tenant, user = job.tenant_id, job.user_id
    teacher = lms_teacher(user)
    recompute = bool(tenant_wide_rollups()) if recompute is None else recompute
    days = user_days(client, tenant, user) if recompute else None
    job = mark_job(client, job, JobStatus.RUNNING, "deleting raw rows")
    raw, mentions = _facts(client, tenant, user, teacher)
    step("raw")
    job = mark_job(client, job, JobStatus.RUNNING, "deleting rollup rows")
    rollups = sum(purge(client, table, tenant, user) for table in DERIVED_TABLES)
    recomputed = None
    if days is not None:  # one day of margin: a tenant-local day reaches into the neighbouring UTC days
        recomputed = (days[0] - timedelta(days=1), days[1] + timedelta(days=1))
        zones.use_stored(stored_time_zones(client))
        rebuild_rollups(client, recomputed[0], recomputed[1], zones, tenant=tenant)
    step("rollups")
    job = mark_job(client, job, JobStatus.RUNNING, "deleting rows stored meanwhile")
    late_raw, late_mentions = _facts(client, tenant, user, teacher)
    late_rollups = sum(purge(client, table, tenant, user) for table in DERIVED_TABLES)
    step("late")
    report = ErasureReport(raw, rollups, late_raw, late_rollups, recomputed, mentions + late_mentions)
    return job, report


@dataclass(frozen=True)
class DeletionOutcome:
    """What a run did with one deletion job: the status it ended in and the rows it deleted (none when it
    failed)."""

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
) -> list[DeletionOutcome]:
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
            write_suppression(client, Suppression(job.tenant_id, job.user_id, job.id, now), now)
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
) -> DeletionOutcome:
    try:
        job, report = erase_user(client, job, zones, recompute, on_step)
    except Exception as exc:  # noqa: BLE001 - the job records why; the suppression stays open
        log.exception("privacy job %s (%s/%s) failed", job.id, job.tenant_id, job.user_id)
        # the status endpoint shows this to admins and services: the error class only, not ClickHouse's
        # message (it may quote SQL or data); the log above has everything
        job = mark_job(client, job, JobStatus.FAILED, f"{type(exc).__name__} (see the job runner's log)")
        _audit(client, job, audit.Outcome.FAILED)
        return DeletionOutcome(job.id, job.tenant_id, job.user_id, job.status, 0, 0)
    if suppression.job_id == job.id:  # else a newer request's suppression: its own job closes it
        now = stored_now()
        write_suppression(client, replace(suppression, until=now + until_margin), later_than(now))
    raw = report.raw_rows + report.late_raw_rows
    rollups = report.rollup_rows + report.late_rollup_rows
    detail = f"{raw} raw and {rollups} rollup rows deleted"
    if report.late_raw_rows or report.late_rollup_rows:
        late = report.late_raw_rows + report.late_rollup_rows
        detail += f" ({late} of them stored meanwhile by writers that had not seen the suppression yet)"
    if report.mentions:
        detail += f"; the teacher's id removed from {report.mentions} rows of others (grades, courses)"
    if report.recomputed_days is not None:
        detail += f"; rollups recomputed {report.recomputed_days[0]}..{report.recomputed_days[1]}"
    job = mark_job(client, job, JobStatus.DONE, detail, raw_rows=raw, rollup_rows=rollups)
    _audit(client, job, audit.Outcome.SUCCEEDED)
    log.info("privacy job %s: %s of %s/%s", job.id, detail, job.tenant_id, job.user_id)
    return DeletionOutcome(job.id, job.tenant_id, job.user_id, job.status, raw, rollups)


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
