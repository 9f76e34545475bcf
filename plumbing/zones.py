"""Keeping a worker's tenant time zones current: zones saved through ``PUT /analytics/config`` live in
``tenant_settings``; workers re-read them periodically (``ANALYTICS_WORKER_ZONE_REFRESH_S``), so new events
are bucketed in the new zone while the scheduled rebuild re-buckets the old ones."""

from __future__ import annotations

import logging

from plumbing.settings import ZoneLookup
from plumbing.snapshot import PeriodicSnapshot
from plumbing.storage import Storage
from plumbing.tenant_store import stored_time_zones

log = logging.getLogger(__name__)


async def _read(storage: Storage) -> dict[str, str]:
    return await storage.run(stored_time_zones, "read tenant time zones")


def _use(zones: ZoneLookup, stored: dict[str, str]) -> None:
    zones.use_stored(stored)
    log.debug("tenant zones refreshed: %d stored", len(stored))


async def refresh_stored_zones(storage: Storage, zones: ZoneLookup) -> None:
    """Read the stored zones into ``zones`` now (retried until the store answers)."""
    _use(zones, await _read(storage))


def stored_zones_refresher(
    storage: Storage, zones: ZoneLookup, interval_s: float
) -> PeriodicSnapshot[dict[str, str]]:
    """Keeps ``zones`` current: reads through ``storage`` at start (:meth:`~PeriodicSnapshot.run` or
    :meth:`~PeriodicSnapshot.start`) and every ``interval_s`` after. Until the first read ``zones`` answers
    the configured zones; a read waits while the store is unavailable (``storage`` retries it)."""
    return PeriodicSnapshot(
        lambda: _read(storage),
        {},
        what="tenant time zones",
        interval_s=interval_s,
        until_loaded="configured zones used until read",
        on_update=lambda stored: _use(zones, stored),
    )
