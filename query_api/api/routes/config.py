"""``GET`` and ``PUT /analytics/config/{user_id}``: the user's tracking preferences and the tenant's settings.

Tracking preferences are the user's own (admins may change anyone's); tenant settings are admins' only. A
``PUT`` changes only the fields its body names, nested ones field by field (ADR 0012). A new time zone
schedules a rebuild of the tenant's rollups over every day with raw data (``rollup_rebuilds``). A shorter
retention deletes nothing here: it is recorded with the grace period after which the retention job applies
it (``retention_changes`` in the answer; changing the setting back before then cancels it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar

from clickhouse_connect.driver.client import Client
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from jobs.rebuild_queue import raw_day_range, rebuilds, schedule_rebuild
from plumbing.tenant_store import (
    default_tenant_settings,
    load_preferences,
    load_tenant_settings,
    pending_shortenings,
    record_shortening,
    save_preferences,
    save_tenant_settings,
)
from query_api.api.deps import CallerDep, ClockDep, SettingsDep, StoreDep, TenantsDep, UserId, envelope
from query_api.examples import example_response
from query_api.models import ConfigPublic, Envelope
from schemas.retention_schedule import pending_retention_changes, shortening
from schemas.tenant_config import ConfigUpdate, TenantSettings, TrackingPreferences, updated
from security.policy import Action

router = APIRouter(prefix="/analytics/config", tags=["config"])


async def get_retention_grace(request: Request) -> timedelta:
    """``ANALYTICS_RETENTION_GRACE_DAYS`` of the app (:func:`query_api.main.attach_query_api`)."""
    grace: timedelta = request.app.state.query_retention_grace
    return grace


RetentionGraceDep = Annotated[timedelta, Depends(get_retention_grace)]


def _config(
    client: Client, tenant_id: str, user_id: str, defaults: TenantSettings, now: datetime
) -> dict[str, Any]:
    tenant = load_tenant_settings(client, tenant_id, defaults)
    pending, _ = pending_shortenings(client, now, tenant_id)
    return {
        "user_id": user_id,
        "tenant_id": tenant_id,
        "tracking": load_preferences(client, tenant_id, user_id).model_dump(),
        "tenant": tenant.model_dump(),
        "retention_changes": [
            change.model_dump()
            for change in pending_retention_changes(tenant.retention, pending.get(tenant_id, ()), now)
        ],
        "rollup_rebuilds": [
            {k: job[k] for k in ("id", "reason", "status", "first_day", "last_day", "requested_at", "detail")}
            for job in rebuilds(client, tenant_id)[:10]
        ],
    }


@router.get("/{user_id}", response_model=Envelope[ConfigPublic], responses=example_response("config"))
async def get_config(
    request: Request,
    user_id: UserId,
    store: StoreDep,
    caller: CallerDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> dict[str, Any]:
    """The user's tracking preferences, the tenant's settings, its scheduled retention changes and recent
    rollup rebuilds."""
    caller.may(Action.READ_USER, user_id)
    defaults = default_tenant_settings(settings, caller.tenant_id)
    now = clock()
    data = await store.execute(lambda client: _config(client, caller.tenant_id, user_id, defaults, now))
    return envelope(request, data)


Model = TypeVar("Model", bound=BaseModel)


def _merged(current: Model, update: BaseModel, part: str) -> Model:
    """``current`` with what ``update`` names; a merged whole that fails validation is refused like a
    malformed body, at the body's location (e.g. a raw retention above the stored daily one)."""
    try:
        return updated(current, update)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False)
        raise RequestValidationError([{**e, "loc": ("body", part, *e["loc"])} for e in errors]) from exc


@router.put("/{user_id}", response_model=Envelope[ConfigPublic], responses=example_response("config"))
async def put_config(
    request: Request,
    user_id: UserId,
    update: ConfigUpdate,
    store: StoreDep,
    caller: CallerDep,
    settings: SettingsDep,
    tenants: TenantsDep,
    clock: ClockDep,
    grace: RetentionGraceDep,
) -> dict[str, Any]:
    """Change the named tracking preferences and/or tenant settings (admins); a new time zone schedules a
    rollup rebuild, a shorter retention a deletion after a grace period."""
    # the answer shows the user's configuration; whoever may change it may also read it
    caller.may(Action.WRITE_USER_CONFIG if update.tracking is not None else Action.READ_USER, user_id)
    if update.tenant is not None:
        caller.may(Action.WRITE_TENANT_SETTINGS)
    tenant_id = caller.tenant_id
    defaults = default_tenant_settings(settings, tenant_id)
    tracking = update.tracking if update.tracking is not None and update.tracking.model_fields_set else None
    tenant = update.tenant if update.tenant is not None and update.tenant.model_fields_set else None

    def current(client: Client) -> tuple[TrackingPreferences, TenantSettings]:
        return load_preferences(client, tenant_id, user_id), load_tenant_settings(client, tenant_id, defaults)

    preferences, before = await store.execute(current)
    new_preferences = _merged(preferences, tracking, "tracking") if tracking is not None else None
    after = _merged(before, tenant, "tenant") if tenant is not None else None
    now = clock()

    def apply(client: Client) -> dict[str, Any]:
        if new_preferences is not None:
            save_preferences(client, tenant_id, user_id, new_preferences)
        if after is not None:
            shorter = shortening(before.retention, after.retention, now, grace)
            if shorter is not None:  # recorded first: the longer retention protects until effective_at
                record_shortening(client, tenant_id, shorter)
            save_tenant_settings(client, tenant_id, after)
            if after.time_zone != before.time_zone:
                days = raw_day_range(client, tenant_id, after.time_zone)
                if days is not None:  # one day of margin: buckets of the old zone may reach a day further
                    first, last = days[0] - timedelta(days=1), days[1] + timedelta(days=1)
                    reason = f"time zone {before.time_zone} -> {after.time_zone}"
                    schedule_rebuild(client, tenant_id, first, last, reason)
        return _config(client, tenant_id, user_id, defaults, now)

    data = await store.execute(apply)
    if after is not None:
        tenants.remember(tenant_id, after)
    return envelope(request, data)
