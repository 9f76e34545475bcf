"""Keeping a worker's tenant time zones current: zones saved through ``PUT /analytics/config`` live in
``tenant_settings``; workers re-read them periodically (``ANALYTICS_WORKER_ZONE_REFRESH_S``), so new events
are bucketed in the new zone while the scheduled rebuild re-buckets the old ones."""

from __future__ import annotations

import logging

from plumbing.settings import ZoneLookup
from plumbing.storage import Storage
from plumbing.tenant_store import stored_time_zones

log = logging.getLogger(__name__)


async def refresh_stored_zones(storage: Storage, zones: ZoneLookup) -> None:
    stored = await storage.run(stored_time_zones, "read tenant time zones")
    zones.use_stored(stored)
    log.debug("tenant zones refreshed: %d stored", len(stored))
