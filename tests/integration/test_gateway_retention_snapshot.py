"""The gateway's view of tenants' raw retention, read from a real ClickHouse, is the retention job's: the
setting in force (a shortening only after its grace period), the tenant's zone, the defaults for tenants
without a row, and nothing refused for its age for a tenant whose settings the job cannot read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jobs.retention import stored_tenant_settings
from plumbing.migrate import migrate
from plumbing.settings import ZoneLookup
from plumbing.tenant_store import record_shortening, save_tenant_settings
from privacy.directory import TenantPrivacyDirectory
from schemas.event_time import RawRetention
from schemas.retention_schedule import RetentionShortening
from schemas.tenant_config import Retention, TenantSettings
from tests.conftest import ClickHouseTarget

pytestmark = pytest.mark.clickhouse


async def test_the_snapshot_holds_each_tenants_raw_retention_in_force(clickhouse: ClickHouseTarget) -> None:
    client = clickhouse.client()
    migrate(client)
    now = datetime.now(UTC)
    save_tenant_settings(
        client, "steady", TenantSettings(time_zone="Asia/Tokyo", retention=Retention(raw_days=45))
    )
    # shortened from 90 to 30 days an hour ago with a week's grace: 90 still protects the data
    before, after = Retention(raw_days=90), Retention(raw_days=30)
    changed = now - timedelta(hours=1)
    record_shortening(
        client,
        "shortened",
        RetentionShortening(
            changed_at=changed, effective_at=changed + timedelta(days=7), replaced=before, requested=after
        ),
    )
    save_tenant_settings(client, "shortened", TenantSettings(retention=after))
    client.command(
        "INSERT INTO tenant_settings (tenant_id, time_zone, raw_retention_days, daily_rollup_retention_days, "
        "coarse_rollup_retention_days, updated_at) VALUES ('broken', 'UTC', 10, 760, 1826, now64(3))"
    )
    tenants = TenantPrivacyDirectory(clickhouse.client, b"s" * 32, zones=ZoneLookup("Europe/Berlin", {}))
    assert tenants.retention_for("steady") == RawRetention(3660, ZoneInfo("Europe/Berlin"))  # not read yet
    assert await tenants.refresh() and tenants.retention_loaded and tenants.retention_failures == 0

    assert tenants.retention_for("steady") == RawRetention(45, ZoneInfo("Asia/Tokyo"))
    assert tenants.retention_for("shortened") == RawRetention(90, ZoneInfo("UTC"))
    assert tenants.retention_for("broken") == RawRetention(
        3660, ZoneInfo("Europe/Berlin")
    )  # 10 < 30: invalid
    assert tenants.retention_for("newcomer") == RawRetention(395, ZoneInfo("Europe/Berlin"))

    job, skipped, _ = stored_tenant_settings(client, now)  # what the retention job applies
    for tenant in ("steady", "shortened"):
        assert tenants.retention_for(tenant).days == job[tenant].retention.raw_days
    assert "broken" in skipped
    await tenants.close()
    client.close()
