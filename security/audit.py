"""The audit log: every read of another user's data, every export and every deletion, with who, which
tenant, what, when, the request id and the outcome (``audit_log``, migration 0010).

Entries are buffered and written in batches (every ``flush_s`` or ``max_batch`` entries, and on shutdown)
so an audited read costs a queue append, not a ClickHouse insert; a crash can lose at most the last
``flush_s`` of entries. Writes that fail are retried with the next batch (the buffer is bounded; when it
overflows the oldest entries are dropped and counted in the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.times import stored_time_text
from security.principal import Principal

log = logging.getLogger(__name__)

TABLE = "audit_log"
COLUMNS = [
    "tenant_id",
    "at",
    "actor",
    "actor_roles",
    "action",
    "target_user",
    "resource",
    "request_id",
    "outcome",
    "detail",
]


class Outcome(StrEnum):
    ALLOWED = "allowed"
    """A read that was answered."""
    DENIED = "denied"
    SUCCEEDED = "succeeded"
    """A job (export, deletion) that completed."""
    FAILED = "failed"
    ACCEPTED = "accepted"
    """A job that was accepted and runs in the background."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    tenant_id: str
    actor: str
    actor_roles: tuple[str, ...]
    action: str
    target_user: str
    resource: str
    request_id: str
    outcome: Outcome
    detail: str = ""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def of(
        cls,
        principal: Principal,
        action: str,
        target_user: str | None,
        resource: str,
        request_id: str,
        outcome: Outcome,
        detail: str = "",
    ) -> AuditEntry:
        return cls(
            principal.tenant_id,
            principal.subject,
            tuple(sorted(principal.roles)),
            action,
            target_user or "",
            resource,
            request_id,
            outcome,
            detail,
        )

    def row(self) -> list[Any]:
        return [
            self.tenant_id,
            self.at,
            self.actor,
            list(self.actor_roles),
            self.action,
            self.target_user,
            self.resource,
            self.request_id,
            self.outcome.value,
            self.detail,
        ]


Execute = Callable[[Callable[[Client], None]], Awaitable[None]]
"""Runs a call with a ClickHouse client (e.g. ``QueryStore.execute``)."""


class AuditLog:
    def __init__(
        self, execute: Execute, flush_s: float = 1.0, max_batch: int = 500, max_buffer: int = 100_000
    ) -> None:
        self._execute = execute
        self._flush_s = flush_s
        self._max_batch = max_batch
        self._buffer: deque[AuditEntry] = deque(maxlen=max_buffer)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()  # the writer task and a reader's flush must not take the same entries
        self.dropped = 0

    def record(self, entry: AuditEntry) -> None:
        """Queue ``entry``; never blocks the request (starts the writer on first use)."""
        if self._task is None:
            with contextlib.suppress(RuntimeError):  # no running loop: the next flush() writes it
                self._task = asyncio.get_running_loop().create_task(self._flush_forever(), name="audit-log")
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:  # not a log line per request
                log.error("audit buffer full: dropping the oldest entries (%d dropped so far)", self.dropped)
        self._buffer.append(entry)
        if len(self._buffer) >= self._max_batch:
            self._wake.set()

    async def stop(self) -> None:
        """Write what is buffered, then stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def flush(self) -> int:
        """Write buffered entries; returns how many were written (0 when the write failed: kept)."""
        async with self._flushing:
            return await self._flush_locked()

    async def _flush_locked(self) -> int:
        written = 0
        while self._buffer:
            count = min(len(self._buffer), self._max_batch)
            batch = [self._buffer.popleft() for _ in range(count)]  # new entries may arrive meanwhile
            try:
                await self._execute(functools.partial(_insert, entries=batch))
            except Exception as exc:  # noqa: BLE001 - kept for the next flush
                self._buffer.extendleft(reversed(batch))
                log.warning("audit entries not written yet (%d buffered): %s", len(self._buffer), exc)
                return written
            written += len(batch)
        return written

    async def _flush_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_s)
            self._wake.clear()
            await self.flush()


def _insert(client: Client, entries: Sequence[AuditEntry]) -> None:
    client.insert(TABLE, [entry.row() for entry in entries], column_names=COLUMNS)


def read_audit(
    client: Client,
    tenant_id: str,
    limit: int,
    offset: int,
    actor: str | None = None,
    target: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """A tenant's entries, newest first, and their total (optionally one actor's or one target's)."""
    where = ["tenant_id = {tenant:String}"]
    parameters: dict[str, Any] = {"tenant": tenant_id, "limit": limit, "offset": offset}
    if actor is not None:
        where.append("actor = {actor:String}")
        parameters["actor"] = actor
    if target is not None:
        where.append("target_user = {target:String}")
        parameters["target"] = target
    condition = " AND ".join(where)
    total = int(
        client.query(f"SELECT count() FROM {TABLE} WHERE {condition}", parameters=parameters).result_rows[0][
            0
        ]
    )
    result = client.query(
        f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WHERE {condition} "
        "ORDER BY at DESC, request_id LIMIT {limit:UInt32} OFFSET {offset:UInt32}",
        parameters=parameters,
    )
    entries = []
    for row in result.result_rows:
        entry = dict(zip(COLUMNS, row, strict=True))
        entry["at"] = stored_time_text(entry["at"])
        entry["actor_roles"] = list(entry["actor_roles"])
        del entry["tenant_id"]
        entries.append(entry)
    return entries, total
