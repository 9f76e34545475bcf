"""Tenant settings as the query API sees them: read from ClickHouse, kept a few seconds per tenant.

Periods are resolved in the tenant's stored time zone (the same one the workers bucket with); a change
through ``PUT /analytics/config`` replaces this process's copy at once, other processes within the TTL.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from cachetools import TTLCache

from plumbing.settings import CommonSettings
from plumbing.tenant_store import default_tenant_settings, load_tenant_settings
from query_api.store import QueryStore
from schemas.tenant_config import TenantSettings


class TenantDirectory:
    def __init__(self, store: QueryStore, settings: CommonSettings, ttl_s: float = 5.0) -> None:
        self._store = store
        self._settings = settings
        self._cache: TTLCache[str, TenantSettings] = TTLCache(maxsize=10_000, ttl=ttl_s)

    async def settings(self, tenant_id: str) -> TenantSettings:
        cached = self._cache.get(tenant_id)
        if cached is not None:
            return cached
        defaults = default_tenant_settings(self._settings, tenant_id)
        loaded = await self._store.execute(lambda client: load_tenant_settings(client, tenant_id, defaults))
        self._cache[tenant_id] = loaded
        return loaded

    async def zone(self, tenant_id: str) -> ZoneInfo:
        return ZoneInfo((await self.settings(tenant_id)).time_zone)

    def remember(self, tenant_id: str, value: TenantSettings) -> None:
        self._cache[tenant_id] = value
