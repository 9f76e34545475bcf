"""Background upkeep of the one-process mode (``analytics dev``): re-read tenant zones and tracking
preferences saved through the config API, and carry out scheduled rollup rebuilds. (Distributed workers
refresh zones and preferences themselves; rebuilds there run as ``analytics rebuild-rollups --pending``,
which cannot open a chDB directory another process holds.)"""

from __future__ import annotations

import asyncio
import logging

from schemas.settings import ZoneLookup
from stream_processors.rebuild_jobs import run_pending_rebuilds
from stream_processors.storage import Storage
from stream_processors.tracking import TrackingFilter
from stream_processors.zones import refresh_stored_zones

log = logging.getLogger(__name__)


async def maintain(storage: Storage, zones: ZoneLookup, tracking: TrackingFilter, interval_s: float) -> None:
    """Forever: refresh, run pending rebuilds, sleep ``interval_s``. Failures are logged and retried."""
    while True:
        try:
            await refresh_stored_zones(storage, zones)
            await tracking.refresh(storage)
            outcomes = await storage.run(
                lambda client: run_pending_rebuilds(client, zones), "rollup rebuilds"
            )
            for outcome in outcomes:
                log.info("rollup rebuild %s of %s: %s", outcome.id, outcome.tenant_id, outcome.status.value)
        except Exception:  # upkeep must never stop the server; the next round retries
            log.exception("embedded maintenance failed")
        await asyncio.sleep(interval_s)
