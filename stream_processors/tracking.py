"""Honouring users' tracking preferences (``PUT /analytics/config/{user_id}``): events of a user who opted
out, or of a stream the user does not want tracked, are not stored — neither raw rows nor rollups.

The gateway stays free of database calls, so it still acknowledges such events; the workers drop them
at the transform step, from a snapshot of ``user_preferences`` they refresh periodically (and at start).
Preferences apply from the moment a worker has seen them; earlier events are not deleted (that is the
GDPR deletion's job).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemas.tenant_config import restricted_preferences
from schemas.topics import Stream
from stream_processors.storage import Storage


class TrackingFilter:
    def __init__(self) -> None:
        self._untracked: dict[tuple[str, str], frozenset[str]] = {}

    def keeps(self, stream: Stream, tenant_id: str, user_id: str) -> bool:
        untracked = self._untracked.get((tenant_id, user_id))
        return untracked is None or stream.value not in untracked

    def keep(self, stream: Stream, events: Sequence[Any]) -> list[Any]:
        """``events`` without those their users do not want tracked (all of them when nobody opted out)."""
        if not self._untracked:
            return list(events)
        return [e for e in events if self.keeps(stream, e.tenant_id, e.user_id)]

    def use(self, rows: Sequence[Sequence[Any]]) -> None:
        """Rows of (tenant, user, tracking enabled, tracked streams) replace the snapshot."""
        every = frozenset(s.value for s in Stream)
        snapshot = {}
        for tenant, user, enabled, streams in rows:
            untracked = every if not enabled else every - frozenset(streams)
            if untracked:
                snapshot[(str(tenant), str(user))] = untracked
        self._untracked = snapshot

    async def refresh(self, storage: Storage) -> None:
        self.use(await storage.run(restricted_preferences, "read tracking preferences"))
