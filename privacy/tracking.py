"""Honouring users' tracking preferences (``PUT /analytics/config/{user_id}``) and GDPR deletions: events of a
user who opted out, of a stream the user does not want tracked, or of a user being erased (a suppression,
:mod:`privacy.suppressions`) are not stored — neither raw rows nor rollups.

Preferences govern the streams of what people do (:data:`schemas.topics.TRACKABLE_STREAMS`: the product's
four and LMS learning activity); an opt-out keeps a person's LMS entity upserts (the platform's records of
users and enrollments) and telemetry has no person. Suppressions apply to every stream: they are keyed by
``(tenant, user_id)``, and an LMS message's ``user_id`` is its subject key (``student:17``), so an erased
student's activity and upserts are dropped. A teacher being erased also appears in other people's messages
(``graded_by`` of students' attempts, ``teacher_ids`` of courses): :meth:`TrackingFilter.redacted` removes
the id from those, as the erasure job does from stored rows.

The gateway stays free of database calls, so it still acknowledges such events; the workers drop them
at the transform step, from a snapshot of ``user_preferences`` and ``user_suppressions`` they refresh
periodically (and at start: :func:`tracking_refresher`). Preferences apply from the moment a worker has seen
them; earlier events are not deleted (that is the GDPR deletion's job, which waits until every writer has
seen its suppression).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from plumbing.snapshot import PeriodicSnapshot
from plumbing.storage import Storage
from plumbing.tenant_store import restricted_preferences
from privacy.suppressions import Suppression, active_suppressions
from schemas.lms_payloads import UserType, subject_key
from schemas.topics import TRACKABLE_STREAMS, Stream


@dataclass(frozen=True, slots=True)
class TrackingRows:
    """What a :class:`TrackingFilter` is built from, as read from the store."""

    preferences: Sequence[Sequence[Any]]
    """Rows of (tenant, user, tracking enabled, tracked streams) of users who restrict tracking."""
    suppressions: Sequence[Suppression]
    """Suppressions of users being (or lately) erased."""


async def read_tracking(storage: Storage) -> TrackingRows:
    """Both reads, each retried by ``storage`` until it succeeds."""
    preferences = await storage.run(restricted_preferences, "read tracking preferences")
    suppressions = await storage.run(active_suppressions, "read erasure suppressions")
    return TrackingRows(preferences, suppressions)


class TrackingFilter:
    def __init__(self) -> None:
        self._untracked: dict[tuple[str, str], frozenset[str]] = {}
        self._suppressed: dict[tuple[str, str], Suppression] = {}

    def keeps(
        self, stream: Stream, tenant_id: str, user_id: str, received_at: datetime | None = None
    ) -> bool:
        """Whether an event is stored (``received_at`` unknown: as if received now, while suppressed)."""
        suppression = self._suppressed.get((tenant_id, user_id))
        if suppression is not None and (received_at is None or suppression.drops(received_at)):
            return False
        untracked = self._untracked.get((tenant_id, user_id))
        return untracked is None or stream.value not in untracked

    @property
    def keeps_everything(self) -> bool:
        """Whether :meth:`keep` keeps every event and :meth:`redacted` changes none: nobody opted out and
        nobody is being erased (the usual case, which writers skip the per-event checks for)."""
        return not self._untracked and not self._suppressed

    def keep(self, stream: Stream, events: Sequence[Any]) -> list[Any]:
        """``events`` without those their users do not want tracked or are being erased (all of them when
        nobody opted out and nobody is being erased)."""
        if self.keeps_everything:
            return list(events)
        return [e for e in events if self.keeps(stream, e.tenant_id, e.user_id, e.received_at)]

    def redacted(self, stream: Stream, event: Any) -> Any:
        """``event`` (kept) without the ids of teachers being erased where it names them as someone else's
        grader (``graded_by`` of an attempt snapshot) or teacher (``teacher_ids`` of a course upsert), by the
        rule of :meth:`keeps` (received before the suppression closed); the event itself when it names none
        (always, without suppressions). Writers apply it to the events :meth:`keep` kept, so messages in
        flight cannot bring an erased teacher back into others' rows."""
        if not self._suppressed:
            return event
        if stream is Stream.LMS_ACTIVITY:
            grader = getattr(event, "graded_by", None)
            if grader is not None and self._erasing_teacher(event.tenant_id, grader, event.received_at):
                return event.model_copy(update={"graded_by": None})
        elif stream is Stream.LMS_ENTITIES:
            teachers = getattr(event, "teacher_ids", None)
            if teachers:
                kept = [
                    t for t in teachers if not self._erasing_teacher(event.tenant_id, t, event.received_at)
                ]
                if len(kept) < len(teachers):
                    return event.model_copy(update={"teacher_ids": kept})
        return event

    def _erasing_teacher(self, tenant_id: str, teacher_id: int, received_at: datetime) -> bool:
        suppression = self._suppressed.get((tenant_id, subject_key(UserType.TEACHER, teacher_id)))
        return suppression is not None and suppression.drops(received_at)

    def use(self, rows: Sequence[Sequence[Any]]) -> None:
        """Rows of (tenant, user, tracking enabled, tracked streams) replace the snapshot. An opt-out (or a
        stream left out) concerns the trackable streams only: other streams are always kept (but for
        suppressions)."""
        every = frozenset(s.value for s in TRACKABLE_STREAMS)
        snapshot = {}
        for tenant, user, enabled, streams in rows:
            untracked = every if not enabled else every - frozenset(streams)
            if untracked:
                snapshot[(str(tenant), str(user))] = untracked
        self._untracked = snapshot

    def use_suppressions(self, suppressions: Iterable[Suppression]) -> None:
        """Suppressions of users being (or lately) erased replace that snapshot."""
        self._suppressed = {(s.tenant_id, s.user_id): s for s in suppressions}

    def use_rows(self, read: TrackingRows) -> None:
        """Preferences and suppressions read together replace both snapshots."""
        self.use(read.preferences)
        self.use_suppressions(read.suppressions)

    def suppression(self, tenant_id: str, user_id: str) -> Suppression | None:
        """The suppression this filter applies to the user (the erasure job asks before it runs)."""
        return self._suppressed.get((tenant_id, user_id))

    async def refresh(self, storage: Storage) -> None:
        """Read both snapshots now (retried until the store answers)."""
        self.use_rows(await read_tracking(storage))


def tracking_refresher(
    storage: Storage, tracking: TrackingFilter, interval_s: float
) -> PeriodicSnapshot[TrackingRows]:
    """Keeps ``tracking`` current: reads through ``storage`` at start (:meth:`~PeriodicSnapshot.run` or
    :meth:`~PeriodicSnapshot.start`) and every ``interval_s`` after. Until the first read ``tracking``
    keeps every event; a read waits while the store is unavailable (``storage`` retries it)."""
    return PeriodicSnapshot(
        lambda: read_tracking(storage),
        TrackingRows((), ()),
        what="tracking preferences and suppressions",
        interval_s=interval_s,
        until_loaded="every event kept until read",
        on_update=tracking.use_rows,
    )
