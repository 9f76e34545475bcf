"""Per-tenant retention on a real ClickHouse: two tenants with different retention, old and new rows in
every raw table and rollup rows of every grain; exactly each tenant's expired rows go, by partition drop or
row delete; a dry run deletes nothing and counts the same; the TTL backstop is on every table.

Raw rows are inserted directly (only the time column and the keys matter to retention). Rollup rows are
inserted through the ``feed_events`` table, so the rollups' own materialized views — the path every worker
insert takes — write the daily, weekly and monthly rows (one table per rollup, a ``grain`` column); the
Python transform before the feed is tested elsewhere and plays no part in retention. Expected survivors
come from an oracle written here from the definitions (a week or month expires when its last day is before
the cutoff of its grain's retention), not from the module.
"""

from __future__ import annotations

import argparse
import calendar
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from cli import retention
from cli.retention import add_cli
from jobs.retention import enforce_retention, run_retention
from jobs.retention_tables import RETAINED_TABLES
from plumbing.storage import Storage
from plumbing.tenant_store import load_tenant_settings, record_shortening, save_tenant_settings
from schemas.retention_schedule import RetentionShortening
from schemas.rollups import date_buckets
from schemas.tenant_config import Retention, TenantSettings
from tests.conftest import ClickHouseTarget

pytestmark = pytest.mark.clickhouse

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
BRIEF, KEEPER = "brief", "keeper"
"""BRIEF stores short retention and lives in Auckland (already 16 June there); KEEPER has no stored row."""
BRIEF_SETTINGS = TenantSettings(
    time_zone="Pacific/Auckland",
    retention=Retention(raw_days=30, daily_rollup_days=60, weekly_monthly_rollup_days=400),
)
Retentions = dict[str, tuple[int, int, int]]
"""tenant → (raw, daily, weekly/monthly) days"""
RETENTION: Retentions = {BRIEF: (30, 60, 400), KEEPER: (395, 760, 1826)}
LOCAL_TODAY = {BRIEF: date(2026, 6, 16), KEEPER: date(2026, 6, 15)}
TIMESTAMP_TABLES = ("analytics_events", "performance_metrics", "activity_logs")
FED_ROLLUPS = ("rollup_user_events", "rollup_page_views", "rollup_session_pages")  # fed by feed_events
MINUTE = timedelta(minutes=1)
RAW_AGES = [
    timedelta(days=1),
    timedelta(days=30) - MINUTE,
    timedelta(days=30) + MINUTE,
    timedelta(days=200),
    timedelta(days=395) - MINUTE,
    timedelta(days=395) + MINUTE,
    timedelta(days=420),
    timedelta(days=900),
    timedelta(days=2000),
]
DAY_AGES = [0, 29, 30, 31, 59, 60, 61, 62, 100, 394, 395, 396, 397, 420, 759, 760, 761, 800, 1825, 1826]
DAY_AGES += [1827, 1835, 1860, 1900, 2100]


Key = tuple[str, str, Any]
"""A stored row's (tenant, grain — '' in a raw table —, time value)."""


def defaults(tenant_id: str) -> TenantSettings:
    return TenantSettings()  # UTC, 395 / 760 / 1826 days


# ---- the oracle ---------------------------------------------------------------------------------------


def raw_expired(tenant: str, when: datetime | date, retention: Retentions = RETENTION) -> bool:
    days = retention[tenant][0]
    if isinstance(when, datetime):
        return when < NOW - timedelta(days=days)
    return when < LOCAL_TODAY[tenant] - timedelta(days=days)


def last_day(grain: str, bucket: date) -> date:
    if grain == "daily":
        return bucket
    if grain == "weekly":
        return bucket + timedelta(days=6)
    return bucket.replace(day=calendar.monthrange(bucket.year, bucket.month)[1])


def rollup_expired(tenant: str, grain: str, bucket: date, retention: Retentions = RETENTION) -> bool:
    days = retention[tenant][1] if grain == "daily" else retention[tenant][2]
    return last_day(grain, bucket) < LOCAL_TODAY[tenant] - timedelta(days=days)


def expired(tenant: str, grain: str, value: Any, retention: Retentions = RETENTION) -> bool:
    return rollup_expired(tenant, grain, value, retention) if grain else raw_expired(tenant, value, retention)


def checked_tables() -> list[str]:
    return [*TIMESTAMP_TABLES, "usage_metrics", *FED_ROLLUPS]


def time_column(table: str) -> str:
    return "bucket" if table.startswith("rollup_") else "date" if table == "usage_metrics" else "timestamp"


def stored(client: Client, table: str) -> Counter[Key]:
    """(tenant, grain, time value) → stored rows."""
    grain = "toString(grain)" if table.startswith("rollup_") else "''"
    rows = client.query(
        f"SELECT toString(tenant_id), {grain}, {time_column(table)}, count() FROM {table} GROUP BY 1, 2, 3"
    ).result_rows
    return Counter(
        {(t, g, v.replace(tzinfo=UTC) if isinstance(v, datetime) else v): n for t, g, v, n in rows}
    )


def snapshot(client: Client) -> dict[str, Counter[Key]]:
    return {table: stored(client, table) for table in checked_tables()}


def expected_removed(
    before: dict[str, Counter[Key]], retention: Retentions = RETENTION
) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for table, rows in before.items():
        per_tenant: Counter[str] = Counter()
        for key, n in rows.items():
            if expired(*key, retention):
                per_tenant[key[0]] += n
        if per_tenant:
            out[table] = dict(per_tenant)
    return out


def survivors(before: dict[str, Counter[Key]], retention: Retentions = RETENTION) -> dict[str, Counter[Key]]:
    return {
        table: Counter({key: n for key, n in rows.items() if not expired(*key, retention)})
        for table, rows in before.items()
    }


# ---- data ---------------------------------------------------------------------------------------------


def fill(client: Client) -> None:
    """Both tenants: raw rows at RAW_AGES in every timestamp table, usage on DAY_AGES, and one feed row
    per day of DAY_AGES (one insert per table, so no merge collapses rows between counting and asserting)."""
    raw = [
        [tenant, uuid.uuid4(), "u1", NOW - age, NOW - age] for tenant in (BRIEF, KEEPER) for age in RAW_AGES
    ]
    for table in TIMESTAMP_TABLES:
        client.insert(table, raw, column_names=["tenant_id", "id", "user_id", "timestamp", "received_at"])
    usage = [
        [tenant, uuid.uuid4(), "u1", LOCAL_TODAY[tenant] - timedelta(days=age), NOW]
        for tenant in (BRIEF, KEEPER)
        for age in DAY_AGES
    ]
    client.insert("usage_metrics", usage, column_names=["tenant_id", "id", "user_id", "date", "received_at"])
    feed = []
    for tenant in (BRIEF, KEEPER):
        for age in DAY_AGES:
            day, week, month = date_buckets(LOCAL_TODAY[tenant] - timedelta(days=age))
            feed.append(
                [tenant, "u1", day, week, month, "user_action", "navigation", "page_view", "s1", "/", 1]
            )
    client.insert(
        "feed_events",
        feed,
        column_names=[
            "tenant_id",
            "user_id",
            "day",
            "week",
            "month",
            "event_type",
            "event_category",
            "event_name",
            "session_id",
            "page",
            "is_page_view",
        ],
    )


def assert_filled(client: Client) -> None:
    """Every row :func:`fill` sent is stored. The module's tests share one database and each fills it
    again with the same rows (the feed's carry no id): a part ClickHouse took for a repeat of the test
    before's (insert deduplication, should TRUNCATE not forget it) would silently shrink what a test
    counts. An insert is kept or dropped part by part, a part per month, so a lost part leaves a
    (tenant, grain, time value) missing."""
    tenants = (BRIEF, KEEPER)
    raw = Counter({(tenant, "", NOW - age): 1 for tenant in tenants for age in RAW_AGES})
    days = [(tenant, LOCAL_TODAY[tenant] - timedelta(days=age)) for tenant in tenants for age in DAY_AGES]
    buckets = {
        (tenant, grain, bucket)
        for tenant, day in days
        for grain, bucket in zip(("daily", "weekly", "monthly"), date_buckets(day), strict=True)
    }
    for table in TIMESTAMP_TABLES:
        assert stored(client, table) == raw, table
    assert stored(client, "usage_metrics") == Counter({(tenant, "", day): 1 for tenant, day in days})
    for table in ("rollup_user_events", "rollup_page_views"):
        assert set(stored(client, table)) == buckets, table
    assert set(stored(client, "rollup_session_pages")) == {key for key in buckets if key[1] == "daily"}
    assert load_tenant_settings(client, BRIEF, TenantSettings()) == BRIEF_SETTINGS


@pytest.fixture
def client(shared_clickhouse: ClickHouseTarget) -> Iterator[Client]:
    """A client of the module's migrated database, emptied before the test (the tests delete rows, drop
    partitions and store settings: each needs exactly what it puts in)."""
    client = shared_clickhouse.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def filled(client: Client) -> Client:
    save_tenant_settings(client, BRIEF, BRIEF_SETTINGS)
    fill(client)
    assert_filled(client)
    return client


# ---- tests --------------------------------------------------------------------------------------------


def test_the_oracle_dates_are_the_zones_local_days() -> None:
    from zoneinfo import ZoneInfo

    assert NOW.astimezone(ZoneInfo(BRIEF_SETTINGS.time_zone)).date() == LOCAL_TODAY[BRIEF]
    assert NOW.date() == LOCAL_TODAY[KEEPER]
    default = TenantSettings().retention
    assert (default.raw_days, default.daily_rollup_days, default.weekly_monthly_rollup_days) == RETENTION[
        KEEPER
    ]


def test_dry_run_counts_and_deletes_nothing_then_apply_removes_exactly_the_expired_rows(
    filled: Client,
) -> None:
    before = snapshot(filled)
    assert sum(sum(rows.values()) for rows in before.values()) == 2 * (
        3 * len(RAW_AGES) + len(DAY_AGES)
    ) + sum(sum(before[t].values()) for t in checked_tables() if t.startswith("rollup_"))
    assert {grain for _, grain, _ in before["rollup_session_pages"]} == {"daily"}
    for table in ("rollup_user_events", "rollup_page_views"):
        assert {grain for _, grain, _ in before[table]} == {"daily", "weekly", "monthly"}
    want = expected_removed(before)
    assert want["analytics_events"] == {BRIEF: 7, KEEPER: 4}  # BRIEF: older than 30 days; KEEPER: 395
    assert set(want) == set(checked_tables())

    dry = enforce_retention(filled, NOW, defaults, dry_run=True)
    assert dry.dry_run and dry.removed() == want
    assert snapshot(filled) == before

    report = enforce_retention(filled, NOW, defaults)
    assert report.removed() == want
    assert {name: t.partitions_dropped for name, t in report.tables.items()} == {
        name: t.partitions_dropped for name, t in dry.tables.items()
    }
    assert snapshot(filled) == survivors(before)
    assert not report.skipped_tenants


def partition_of(value: datetime | date) -> str:
    return f"{value:%Y%m}"


# Whole partitions (months) go when every value they can hold is past every tenant's cutoff; KEEPER's are
# the earliest: raw 2025-05-16 12:00 (months up to April 2025), daily rollups 2024-05-16 (up to April 2024),
# weekly and monthly rollups 2021-06-14 (weeks starting before 2021-06-08, months before June 2021). A
# rollup table holds all its grains in the same monthly partitions, so only session pages (daily only) drop
# theirs up to April 2024; the others keep every month from June 2021 on for their weekly and monthly rows.
DROPPED = {
    **{table: ["202012", "202312", "202504"] for table in TIMESTAMP_TABLES},
    "usage_metrics": ["202009", "202104", "202105", "202106", "202404", "202405", "202504"],
    "rollup_user_events": ["202009", "202103", "202104", "202105"],
    "rollup_page_views": ["202009", "202103", "202104", "202105"],
    "rollup_session_pages": ["202009", "202104", "202105", "202106", "202404"],
}


def test_whole_partitions_expired_for_every_tenant_are_dropped_and_the_rest_row_deleted(
    filled: Client,
) -> None:
    before = snapshot(filled)
    report = enforce_retention(filled, NOW, defaults)

    assert report.tables["analytics_events"].rows_in_dropped_partitions == {BRIEF: 3, KEEPER: 3}
    assert report.tables["analytics_events"].rows_deleted == {BRIEF: 4, KEEPER: 1}  # 30 d + 1 min .. 395 d
    assert report.tables["rollup_user_events"].rows_in_dropped_partitions == {BRIEF: 9, KEEPER: 10}
    assert report.tables["rollup_user_events"].rows_deleted == {BRIEF: 25, KEEPER: 6}
    for table in checked_tables():
        dropped = DROPPED[table]
        outcome = report.tables[table]
        assert outcome.partitions_dropped == dropped, table
        in_dropped: Counter[str] = Counter()
        deleted: Counter[str] = Counter()
        for (tenant, grain, value), n in before[table].items():
            if partition_of(value) in dropped:
                in_dropped[tenant] += n
            elif expired(tenant, grain, value):
                deleted[tenant] += n
        assert outcome.rows_in_dropped_partitions == dict(in_dropped), table
        assert outcome.rows_deleted == dict(deleted), table
    after = snapshot(filled)
    assert after == survivors(before)
    gone: Counter[tuple[str, str]] = Counter()
    for (tenant, grain, _), n in (before["rollup_user_events"] - after["rollup_user_events"]).items():
        gone[tenant, grain] += n
    assert gone == {
        (BRIEF, "daily"): 19,
        (BRIEF, "weekly"): 8,
        (BRIEF, "monthly"): 7,
        (KEEPER, "daily"): 9,
        (KEEPER, "weekly"): 4,  # all in dropped partitions: weeks ending before 2021-06-14
        (KEEPER, "monthly"): 3,
    }
    again = enforce_retention(filled, NOW, defaults)
    assert again.total_rows == 0 and all(not t.partitions_dropped for t in again.tables.values())


def test_a_rollup_month_with_retained_weekly_and_monthly_rows_is_not_dropped_while_its_daily_rows_go(
    filled: Client,
) -> None:
    """April 2024: every tenant's daily rows there are expired (the partition a per-grain daily table
    would have dropped), but KEEPER's week and month starting in it are within 5 years."""
    april = {
        key: n for key, n in stored(filled, "rollup_user_events").items() if partition_of(key[2]) == "202404"
    }
    assert {(tenant, grain) for tenant, grain, _ in april} == {
        (tenant, grain) for tenant in (BRIEF, KEEPER) for grain in ("daily", "weekly", "monthly")
    }

    report = enforce_retention(filled, NOW, defaults)

    assert "202404" not in report.tables["rollup_user_events"].partitions_dropped
    assert "202404" in report.tables["rollup_session_pages"].partitions_dropped  # daily rows only
    left = {
        key: n for key, n in stored(filled, "rollup_user_events").items() if partition_of(key[2]) == "202404"
    }
    assert left == {(KEEPER, "weekly", date(2024, 4, 1)): 1, (KEEPER, "monthly", date(2024, 4, 1)): 1}
    assert {key for key in april if key not in left} == {
        (BRIEF, "daily", date(2024, 4, 7)),
        (KEEPER, "daily", date(2024, 4, 6)),
        (BRIEF, "weekly", date(2024, 4, 1)),  # BRIEF keeps weeks and months for 400 days only
        (BRIEF, "monthly", date(2024, 4, 1)),
    }
    assert not any(partition_of(v) == "202404" for _, _, v in stored(filled, "rollup_session_pages"))


async def test_the_async_entry_point_through_a_worker_storage(
    filled: Client, shared_clickhouse: ClickHouseTarget
) -> None:
    before = snapshot(filled)
    storage = Storage(shared_clickhouse.client)
    try:
        report = await run_retention(storage, defaults, now=NOW)
    finally:
        storage.close()
    assert report.removed() == expected_removed(before)
    assert snapshot(filled) == survivors(before)


def test_a_run_for_one_tenant_after_its_settings_change_touches_only_that_tenant(filled: Client) -> None:
    shorter = TenantSettings(
        retention=Retention(raw_days=100, daily_rollup_days=100, weekly_monthly_rollup_days=500)
    )
    save_tenant_settings(filled, KEEPER, shorter)
    before = snapshot(filled)

    report = enforce_retention(filled, NOW, defaults, tenant=KEEPER)

    assert all(not t.partitions_dropped for t in report.tables.values())
    after = snapshot(filled)
    shortened = {**RETENTION, KEEPER: (100, 100, 500)}
    for table in checked_tables():
        gone = before[table] - after[table]
        assert all(tenant == KEEPER for tenant, _, _ in gone), table
        want = {key: n for key, n in before[table].items() if key[0] == KEEPER and expired(*key, shortened)}
        assert gone == Counter(want), table
        assert report.removed().get(table, {}).get(KEEPER, 0) == sum(gone.values())
    events_left = sorted(v for t, _, v in after["analytics_events"] if t == KEEPER)
    assert events_left == sorted(NOW - age for age in RAW_AGES if age < timedelta(days=100))
    weekly_left = [v for t, g, v in after["rollup_user_events"] if t == KEEPER and g == "weekly"]
    assert min(weekly_left) + timedelta(days=6) >= LOCAL_TODAY[KEEPER] - timedelta(days=500)
    daily_left = [v for t, g, v in after["rollup_user_events"] if t == KEEPER and g == "daily"]
    assert min(daily_left) >= LOCAL_TODAY[KEEPER] - timedelta(days=100)
    weekly_before = [v for t, g, v in before["rollup_user_events"] if t == KEEPER and g == "weekly"]
    assert min(weekly_left) < min(daily_left) and len(weekly_left) < len(weekly_before)
    assert sorted(v for t, _, v in after["analytics_events"] if t == BRIEF) == sorted(
        v for t, _, v in before["analytics_events"] if t == BRIEF
    )


def test_a_shortening_in_its_grace_period_keeps_the_replaced_retention_in_force(filled: Client) -> None:
    """BRIEF's stored 30/60/400 days replaced the defaults a day ago, effective in an hour: the job applies
    the defaults to BRIEF until then. A replaced 1000/1000/2000 whose grace period has passed protects
    nothing any more."""
    pending = RetentionShortening(
        changed_at=NOW - timedelta(days=1),
        effective_at=NOW + timedelta(hours=1),
        replaced=TenantSettings().retention,
        requested=BRIEF_SETTINGS.retention,
    )
    passed = RetentionShortening(
        changed_at=NOW - timedelta(days=9),
        effective_at=NOW,
        replaced=Retention(raw_days=1000, daily_rollup_days=1000, weekly_monthly_rollup_days=2000),
        requested=TenantSettings().retention,
    )
    record_shortening(filled, BRIEF, pending)
    record_shortening(filled, BRIEF, passed)
    before = snapshot(filled)
    in_force = {**RETENTION, BRIEF: RETENTION[KEEPER]}
    assert expected_removed(before, in_force) != expected_removed(before)

    dry = enforce_retention(filled, NOW, defaults, dry_run=True)
    assert dry.removed() == expected_removed(before, in_force)
    assert dry.to_json()["deferred"] == {BRIEF: (NOW + timedelta(hours=1)).isoformat()}
    report = enforce_retention(filled, NOW, defaults)
    assert report.removed() == expected_removed(before, in_force)
    assert report.deferred == {BRIEF: NOW + timedelta(hours=1)} and not report.skipped_tenants
    assert snapshot(filled) == survivors(before, in_force)


def test_a_tenant_with_invalid_stored_settings_keeps_everything_and_blocks_partition_drops(
    filled: Client,
) -> None:
    filled.command(
        "INSERT INTO tenant_settings (tenant_id, time_zone, ip_handling, raw_retention_days, "
        "daily_rollup_retention_days, coarse_rollup_retention_days, updated_at) "
        "VALUES ('broken', 'UTC', 'store', 5, 5, 5, now64(3))"
    )
    filled.insert(
        "analytics_events",
        [["broken", uuid.uuid4(), "u1", NOW - timedelta(days=3000), NOW]],
        column_names=["tenant_id", "id", "user_id", "timestamp", "received_at"],
    )
    report = enforce_retention(filled, NOW, defaults)
    assert set(report.skipped_tenants) == {"broken"}
    assert all(not t.partitions_dropped for t in report.tables.values())
    assert ("broken", "", NOW - timedelta(days=3000)) in stored(filled, "analytics_events")
    assert report.tables["analytics_events"].rows_deleted == {BRIEF: 7, KEEPER: 4}


LMS_RAW = ("lms_activity", "lms_entity_upserts", "lms_telemetry")
LMS_STATE = ("lms_institutes", "lms_courses", "lms_users", "lms_enrollments")


def fill_lms(client: Client) -> list[str]:
    """Both tenants: LMS raw rows at RAW_AGES, and one row of each LMS feed per day of DAY_AGES (so every
    LMS rollup holds each grain it keeps); the current-state tables one entity each, last changed 3000 days
    ago. Returns the LMS rollup tables fed."""
    raw = [
        [tenant, uuid.uuid4(), "student:17", NOW - age, NOW - age]
        for tenant in (BRIEF, KEEPER)
        for age in RAW_AGES
    ]
    for table in LMS_RAW:
        client.insert(table, raw, column_names=["tenant_id", "id", "user_id", "timestamp", "received_at"])
    feeds: dict[str, tuple[list[str], list[list[Any]]]] = {
        "feed_lms_activity": (["user_type", "type", "course_id", "course_or_null", "is_view"], []),
        "feed_lms_video": (["course_id", "video_id", "watch_duration"], []),
        "feed_lms_attempts": (["course_id", "assessment_type", "assessment_id", "attempt_id", "state"], []),
        "feed_lms_enrollments": (["course_id", "status", "progress_centi", "version"], []),
        "feed_lms_telemetry": (["source", "type", "requests", "storage_used_bytes", "sampled_at"], []),
    }
    for tenant in (BRIEF, KEEPER):
        for age in DAY_AGES:
            local = LOCAL_TODAY[tenant] - timedelta(days=age)
            head = [tenant, "student:17", *date_buckets(local)]
            feeds["feed_lms_activity"][1].append([*head, "student", "content_viewed", 5, 5, 1])
            feeds["feed_lms_video"][1].append([*head, 5, 51, 60])
            feeds["feed_lms_attempts"][1].append([*head, 5, "quiz", 61, 1000 + age, "started"])
            feeds["feed_lms_enrollments"][1].append([*head, 5, "active", 100 * age, age])
            sampled = datetime.combine(local, datetime.min.time(), UTC)
            feeds["feed_lms_telemetry"][1].append(
                [tenant, "source:web-1", *head[2:], "web-1", "storage", 0, 7, sampled]
            )
    for feed, (columns, rows) in feeds.items():
        client.insert(feed, rows, column_names=["tenant_id", "user_id", "day", "week", "month", *columns])
    ancient = NOW - timedelta(days=3000)
    for tenant in (BRIEF, KEEPER):
        client.insert(
            "lms_institutes",
            [[tenant, 1, "North", 1, ancient]],
            column_names=["tenant_id", "institute_id", "name", "version", "updated_at"],
        )
        client.insert(
            "lms_courses",
            [[tenant, 5, 1, "Algebra", [4], 1, ancient]],
            column_names=[
                "tenant_id",
                "course_id",
                "institute_id",
                "title",
                "teacher_ids",
                "version",
                "updated_at",
            ],
        )
        client.insert(
            "lms_users",
            [[tenant, "student:17", "student", 17, ancient, 1, ancient]],
            column_names=[
                "tenant_id",
                "user_id",
                "user_type",
                "lms_user_id",
                "signed_up_at",
                "version",
                "updated_at",
            ],
        )
        client.insert(
            "lms_enrollments",
            [[tenant, "student:17", 17, 5, ancient, "active", 1, ancient]],
            column_names=[
                "tenant_id",
                "user_id",
                "student_id",
                "course_id",
                "enrolled_at",
                "status",
                "version",
                "updated_at",
            ],
        )
    return [t.name for t in RETAINED_TABLES if t.name.startswith("rollup_lms_")]


def test_the_lms_raw_tables_and_rollups_expire_like_the_products_and_the_current_state_never(
    client: Client,
) -> None:
    save_tenant_settings(client, BRIEF, BRIEF_SETTINGS)
    rollups = fill_lms(client)
    assert len(rollups) == 7
    tables = [*LMS_RAW, *rollups]
    before = {table: stored(client, table) for table in tables}
    for table in rollups:  # each rollup holds every grain it keeps (the telemetry ones too)
        grains = {grain for _, grain, _ in before[table]}
        daily_only = table in ("rollup_lms_attempts", "rollup_lms_enrollment_progress")
        assert grains == ({"daily"} if daily_only else {"daily", "weekly", "monthly"}), table
    state = {
        table: client.query(f"SELECT * FROM {table} ORDER BY tenant_id").result_rows for table in LMS_STATE
    }
    want = expected_removed(before)
    assert set(want) == set(tables) and want["lms_activity"] == {BRIEF: 7, KEEPER: 4}

    report = enforce_retention(client, NOW, defaults)

    assert report.removed() == want  # the product's tables are empty here: nothing else removed
    assert {table: stored(client, table) for table in tables} == survivors(before)
    assert not set(LMS_STATE) & set(report.tables)
    assert {
        table: client.query(f"SELECT * FROM {table} ORDER BY tenant_id").result_rows for table in LMS_STATE
    } == state


def test_every_retained_table_has_the_ttl_backstop(client: Client) -> None:
    engines = {
        str(name): str(engine)
        for name, engine in client.query(
            "SELECT name, engine_full FROM system.tables WHERE database = currentDatabase()"
        ).result_rows
    }
    expected = {
        "analytics_events": "TTL toDateTime(timestamp) + toIntervalDay(3661)",
        "performance_metrics": "TTL toDateTime(timestamp) + toIntervalDay(3661)",
        "activity_logs": "TTL toDateTime(timestamp) + toIntervalDay(3661)",
        "usage_metrics": "TTL date + toIntervalDay(3662)",
    }
    expected.update(dict.fromkeys(LMS_RAW, "TTL toDateTime(timestamp) + toIntervalDay(3661)"))
    by_grain = "toIntervalDay(multiIf(grain = 'daily', 3662, grain = 'weekly', 7329, 7353))"
    daily_only = ("rollup_session_pages", "rollup_lms_attempts", "rollup_lms_enrollment_progress")
    for table in RETAINED_TABLES:
        if table.name.startswith("rollup_"):
            single = table.name in daily_only
            expected[table.name] = f"TTL bucket + {'toIntervalDay(3662)' if single else by_grain}"
    assert len(expected) == 4 + 7 + 3 + 7
    for name in LMS_STATE:  # current state: no TTL
        assert " TTL " not in engines[name], (name, engines[name])
    for name, ttl in expected.items():
        assert ttl in engines[name], (name, engines[name])
    # The backstop removes what is past it even if the job never runs (now() is the real clock here).
    real_now = datetime.now(UTC)
    rows = [["t", uuid.uuid4(), "u1", real_now - timedelta(days=d), real_now] for d in (3000, 3700)]
    client.insert(
        "analytics_events", rows, column_names=["tenant_id", "id", "user_id", "timestamp", "received_at"]
    )
    client.command("OPTIMIZE TABLE analytics_events FINAL")
    ages = [
        (real_now - ts.replace(tzinfo=UTC)).days
        for (ts,) in client.query("SELECT timestamp FROM analytics_events").result_rows
    ]
    assert ages == [3000]
    # A rollup's TTL picks each row's days by its grain: rows two days short of their grain's backstop stay,
    # rows two days past it go (whatever the server's time zone).
    today = real_now.date()
    rollup_rows = [
        ["t", grain, today - timedelta(days=days + offset), "u1", "login", "auth", "info", 1]
        for grain, days in (("daily", 3662), ("weekly", 7329), ("monthly", 7353))
        for offset in (-2, 2)
    ]
    client.insert(
        "rollup_user_activities",
        rollup_rows,
        column_names=[
            "tenant_id",
            "grain",
            "bucket",
            "user_id",
            "activity_type",
            "activity_category",
            "severity",
            "activities",
        ],
    )
    client.command("OPTIMIZE TABLE rollup_user_activities FINAL")
    left = client.query("SELECT toString(grain), bucket FROM rollup_user_activities").result_rows
    assert sorted((str(g), (today - b).days) for g, b in left) == [
        ("daily", 3660),
        ("monthly", 7351),
        ("weekly", 7327),
    ]


def test_cli_dry_run_by_default_and_apply(
    filled: Client,
    shared_clickhouse: ClickHouseTarget,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ANALYTICS_CLICKHOUSE_URL", shared_clickhouse.url)
    monkeypatch.setenv("ANALYTICS_CLICKHOUSE_DATABASE", shared_clickhouse.database)
    monkeypatch.setattr(retention, "_now", lambda: NOW)
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers(dest="command", required=True))
    before = snapshot(filled)
    want = expected_removed(before)

    def run(*argv: str) -> dict[str, Any]:
        args = parser.parse_args(["retention", *argv, "--json"])
        assert args.handler(args) == 0
        out: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[0])
        return out

    def removed(out: dict[str, Any]) -> dict[str, dict[str, int]]:
        totals: dict[str, dict[str, int]] = {}
        for table, t in out["tables"].items():
            counts = Counter(t["rows_in_dropped_partitions"]) + Counter(t["rows_deleted"])
            totals[table] = dict(counts)
        return {table: rows for table, rows in totals.items() if table in want}

    for argv in ((), ("--dry-run",), ("--apply", "--dry-run")):
        out = run(*argv)
        assert out["dry_run"] is True and removed(out) == want, argv
    assert snapshot(filled) == before
    out = run("--apply")
    assert out["dry_run"] is False and removed(out) == want
    assert snapshot(filled) == survivors(before)
