"""Keeping a worker's tenant time zones current: zones saved through ``PUT /analytics/config`` live in
``tenant_settings``; workers re-read them periodically (``ANALYTICS_WORKER_ZONE_REFRESH_S``), so new events
are bucketed in the new zone while the scheduled rebuild re-buckets the old ones."""

from __future__ import annotations

import logging

from schemas.settings import ZoneLookup
from stream_processors.storage import Storage

log = logging.getLogger(__name__)


async def refresh_stored_zones(storage: Storage, zones: ZoneLookup) -> None:
    rows = await storage.query("SELECT tenant_id, time_zone FROM tenant_settings FINAL")
    zones.use_stored({str(tenant): str(zone) for tenant, zone in rows})
    log.debug("tenant zones refreshed: %d stored", len(rows))
