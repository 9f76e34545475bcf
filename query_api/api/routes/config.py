"""``GET`` and ``PUT /analytics/config/{user_id}``: the user's tracking preferences and the tenant's settings.

Tracking preferences are the user's own (admins may change anyone's); tenant settings are admins' only. A
new time zone schedules a rebuild of the tenant's rollups over every day with raw data (``rollup_rebuilds``),
and a shorter retention deletes the tenant's older rows at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client
from fastapi import APIRouter, Request

from query_api.api.deps import CallerDep, SettingsDep, StoreDep, TenantsDep, UserId, envelope
from query_api.examples import example_response
from query_api.models import ConfigPublic, Envelope
from schemas.security.policy import Action
from schemas.tenant_config import (
    ConfigUpdate,
    TenantSettings,
    default_tenant_settings,
    load_preferences,
    load_tenant_settings,
    raw_day_range,
    rebuilds,
    save_preferences,
    save_tenant_settings,
    schedule_rebuild,
)
from stream_processors.retention import enforce_retention

router = APIRouter(prefix="/analytics/config", tags=["config"])


def _config(client: Client, tenant_id: str, user_id: str, defaults: TenantSettings) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "tenant_id": tenant_id,
        "tracking": load_preferences(client, tenant_id, user_id).model_dump(),
        "tenant": load_tenant_settings(client, tenant_id, defaults).model_dump(),
        "rollup_rebuilds": [
            {k: job[k] for k in ("id", "reason", "status", "first_day", "last_day", "requested_at", "detail")}
            for job in rebuilds(client, tenant_id)[:10]
        ],
    }


@router.get("/{user_id}", response_model=Envelope[ConfigPublic], responses=example_response("config"))
async def get_config(
    request: Request, user_id: UserId, store: StoreDep, caller: CallerDep, settings: SettingsDep
) -> dict[str, Any]:
    """The user's tracking preferences, the tenant's settings and its recent rollup rebuilds."""
    caller.may(Action.READ_USER, user_id)
    defaults = default_tenant_settings(settings, caller.tenant_id)
    data = await store.execute(lambda client: _config(client, caller.tenant_id, user_id, defaults))
    return envelope(request, data)


@router.put("/{user_id}", response_model=Envelope[ConfigPublic], responses=example_response("config"))
async def put_config(
    request: Request,
    user_id: UserId,
    update: ConfigUpdate,
    store: StoreDep,
    caller: CallerDep,
    settings: SettingsDep,
    tenants: TenantsDep,
) -> dict[str, Any]:
    """Change tracking preferences and/or tenant settings (admins); a new time zone schedules a rebuild."""
    # the answer shows the user's configuration; whoever may change it may also read it
    caller.may(Action.WRITE_USER_CONFIG if update.tracking is not None else Action.READ_USER, user_id)
    if update.tenant is not None:
        caller.may(Action.WRITE_TENANT_SETTINGS)
    tenant_id = caller.tenant_id
    defaults = default_tenant_settings(settings, tenant_id)

    def apply(client: Client) -> dict[str, Any]:
        if update.tracking is not None:
            save_preferences(client, tenant_id, user_id, update.tracking)
        if update.tenant is not None:
            before = load_tenant_settings(client, tenant_id, defaults)
            save_tenant_settings(client, tenant_id, update.tenant)
            if update.tenant.time_zone != before.time_zone:
                days = raw_day_range(client, tenant_id, update.tenant.time_zone)
                if days is not None:  # one day of margin: buckets of the old zone may reach a day further
                    first, last = days[0] - timedelta(days=1), days[1] + timedelta(days=1)
                    reason = f"time zone {before.time_zone} -> {update.tenant.time_zone}"
                    schedule_rebuild(client, tenant_id, first, last, reason)
            if update.tenant.retention != before.retention:  # a shorter retention applies now
                saved = update.tenant
                enforce_retention(client, datetime.now(UTC), lambda _: saved, tenant=tenant_id, wait=False)
        return _config(client, tenant_id, user_id, defaults)

    data = await store.execute(apply)
    if update.tenant is not None:
        tenants.remember(tenant_id, update.tenant)
    return envelope(request, data)
