"""Suppressions of users being erased (``user_suppressions``): the record that makes every writer drop a
user's events while a GDPR deletion (:mod:`jobs.erasure`) is pending or running, and after it for as long
as an event received before it can still arrive.

A deletion request writes one, open (``until`` unset); workers re-read them with the tracking preferences
every ``ANALYTICS_WORKER_ZONE_REFRESH_S`` (:mod:`privacy.tracking`) and drop the user's events at the
transform step like an opted-out user's, so events still in flight (queued in Kafka, in a batch being
re-formed, in a dead letter replayed later) cannot bring the user back. The finished job closes it
(``until`` set): events received before ``until`` stay dropped for good, later ones are new data.

Synchronous clickhouse-connect calls; async callers run them in a thread.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.times import as_utc, stored_now
from schemas.topics import DAY_MS, DEAD_LETTER_RETENTION_MS, DEFAULT_RETENTION_MS

SUPPRESSIONS_TABLE = "user_suppressions"

SUPPRESSION_HORIZON = timedelta(milliseconds=max(DEFAULT_RETENTION_MS, DEAD_LETTER_RETENTION_MS) + DAY_MS)
"""How long after a deletion its suppression still applies: an event received before it can reappear from
Kafka or a replayed dead letter until their retention has passed, never later."""

_SUPPRESSION_COLUMNS = ("tenant_id", "user_id", "job_id", "since", "until", "updated_at")
_SELECT_SUPPRESSION = (
    f"SELECT tenant_id, user_id, toString(job_id), since, until FROM {SUPPRESSIONS_TABLE} FINAL"
)


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


def write_suppression(client: Client, suppression: Suppression, updated_at: datetime) -> None:
    """The suppression's new state: a row that replaces the user's older ones (latest ``updated_at``)."""
    row = [
        suppression.tenant_id,
        suppression.user_id,
        uuid.UUID(suppression.job_id),
        suppression.since,
        suppression.until,
        updated_at,
    ]
    client.insert(SUPPRESSIONS_TABLE, [row], column_names=list(_SUPPRESSION_COLUMNS))


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
