"""The queue of GDPR deletions (``privacy_jobs``): ``DELETE /analytics/privacy/users/{user_id}`` schedules a
job here with its suppression (:mod:`privacy.suppressions`); :mod:`jobs.erasure` carries it out, marking it
``running``, then ``done`` or ``failed`` with the reason.

Each state is a new row replacing the job's older ones (latest ``updated_at``). Synchronous
clickhouse-connect calls; async callers run them in a thread.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from clickhouse_connect.driver.client import Client

from privacy.suppressions import Suppression, write_suppression
from schemas.times import as_utc, later_than, stored_now

JOBS_TABLE = "privacy_jobs"
DELETE_KIND = "delete"


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


def _write_job(client: Client, job: PrivacyJob) -> None:
    client.insert(JOBS_TABLE, [job.row()], column_names=list(_JOB_COLUMNS))


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


def schedule_deletion(
    client: Client, tenant_id: str, user_id: str, requested_by: str
) -> tuple[PrivacyJob, bool]:
    """The user's pending or running deletion if there is one (``False``), else a new job and its
    suppression (``True``). The job is written first: a crash in between leaves a job whose runner records
    the missing suppression (:func:`jobs.erasure.run_pending_deletions`), never a suppression nobody
    closes."""
    unfinished = privacy_jobs(client, OPEN_STATUSES, tenant_id, user_id)
    if unfinished:
        return unfinished[0], False
    now = stored_now()
    job = PrivacyJob(tenant_id, str(uuid.uuid4()), user_id, JobStatus.PENDING, requested_by, now, now)
    _write_job(client, job)
    write_suppression(client, Suppression(tenant_id, user_id, job.id, now), now)
    return job, True


def mark_job(
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
