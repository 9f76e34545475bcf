"""Retention cutoffs, bucket bounds, partition ranges and the TTL backstop, without a database; the LMS raw
tables and rollups are retained like the product's, the LMS current-state tables not at all."""

from __future__ import annotations

import argparse
import calendar
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cli.retention import add_cli
from jobs.retention import _split_partitions
from jobs.retention_bounds import bucket_bound, local_cutoff_day, partition_range, table_bound, table_bounds
from jobs.retention_tables import (
    RETAINED_TABLES,
    ROLLUP_RETAINED,
    RetainedTable,
    Tier,
    backstop_statements,
    max_retention_days,
    tier_of,
)
from plumbing.migrate import load_migrations
from schemas.lms_rows import LMS_STATE_TABLES, LMS_VIDEO_SESSIONS
from schemas.rollups import GRAIN_TYPE, PRODUCT_ROLLUPS, ROLLUPS, Grain
from schemas.rows import RAW_TABLES
from schemas.tenant_config import Retention, TenantSettings

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
TABLES = {t.name: t for t in RETAINED_TABLES}
EXTREME_ZONES = ["UTC", "Pacific/Kiritimati", "Etc/GMT+12", "Pacific/Auckland", "America/Los_Angeles"]


def settings(raw: int, daily: int, coarse: int, zone: str = "UTC") -> TenantSettings:
    return TenantSettings(
        time_zone=zone,
        retention=Retention(raw_days=raw, daily_rollup_days=daily, weekly_monthly_rollup_days=coarse),
    )


def test_defaults_are_13_months_raw_25_months_daily_5_years_coarse() -> None:
    default = TenantSettings().retention
    assert (default.raw_days, default.daily_rollup_days, default.weekly_monthly_rollup_days) == (
        395,
        760,
        1826,
    )


def test_every_raw_and_rollup_table_is_retained_with_its_time_column_and_grains() -> None:
    raw = {
        name: (t.column, t.is_datetime, t.slices)
        for name, t in TABLES.items()
        if not name.startswith("rollup_")
    }
    assert raw == {
        "analytics_events": ("timestamp", True, (None,)),
        "performance_metrics": ("timestamp", True, (None,)),
        "usage_metrics": ("date", False, (None,)),
        "activity_logs": ("timestamp", True, (None,)),
        "lms_entity_upserts": ("timestamp", True, (None,)),
        "lms_activity": ("timestamp", True, (None,)),
        "lms_telemetry": ("timestamp", True, (None,)),
        "lms_video_sessions": ("timestamp", True, (None,)),  # lms_activity's watch sessions, by course
    }
    assert set(raw) == {*RAW_TABLES.values(), LMS_VIDEO_SESSIONS}
    assert not set(LMS_STATE_TABLES.values()) & set(TABLES)  # current state: no retention
    rollups = {name: t for name, t in TABLES.items() if name.startswith("rollup_")}
    assert set(rollups) == {t.name for t in ROLLUP_RETAINED}
    assert {name: (t.column, t.is_datetime, t.grains) for name, t in rollups.items()} == {
        item.table: ("bucket", False, item.grains) for item in ROLLUPS
    }
    assert len(rollups) == 7 + 7  # the product's and the learning platform's
    assert rollups["rollup_session_pages"].slices == (Grain.DAY,)
    assert rollups["rollup_user_events"].slices == (Grain.DAY, Grain.WEEK, Grain.MONTH)
    for name in ("rollup_lms_attempts", "rollup_lms_enrollment_progress"):  # as-of state: daily rows only
        assert rollups[name].slices == (Grain.DAY,), name
    for name in ("rollup_lms_course_activity", "rollup_lms_user_days", "rollup_lms_platform_traffic"):
        assert rollups[name].slices == (Grain.DAY, Grain.WEEK, Grain.MONTH), name


def test_raw_rows_daily_rollup_rows_and_coarser_rollup_rows_follow_their_own_setting() -> None:
    assert [tier_of(grain) for grain in (None, Grain.DAY, Grain.WEEK, Grain.MONTH)] == [
        Tier.RAW,
        Tier.DAILY,
        Tier.WEEKLY_MONTHLY,
        Tier.WEEKLY_MONTHLY,
    ]


def test_partition_keys_match_the_create_statements_of_the_migrations() -> None:
    sql = "\n".join(m.sql for m in load_migrations())
    for table in RETAINED_TABLES:
        create = re.search(rf"CREATE TABLE IF NOT EXISTS {table.name}\b.*?;", sql, flags=re.DOTALL)
        assert create is not None, table.name
        assert f"PARTITION BY {table.partition_key}\n" in create.group(0), table.name
        if table.grains:  # the expired condition and the TTL compare the grain with its name
            assert f"grain {GRAIN_TYPE}," in create.group(0), table.name


def test_raw_cutoff_is_an_instant_and_usage_dates_use_the_tenants_local_day() -> None:
    tenant = settings(30, 60, 400, "Pacific/Auckland")  # 16 June already, at noon UTC on the 15th
    assert table_bound(TABLES["analytics_events"], tenant, NOW) == datetime(2026, 5, 16, 12, 0, tzinfo=UTC)
    assert table_bound(TABLES["usage_metrics"], tenant, NOW) == date(2026, 5, 17)
    assert table_bound(TABLES["usage_metrics"], settings(30, 60, 400, "America/Los_Angeles"), NOW) == date(
        2026, 5, 16
    )
    early = datetime(2026, 6, 15, 5, 0, tzinfo=UTC)  # still the 14th in Los Angeles
    assert local_cutoff_day(early, ZoneInfo("America/Los_Angeles"), 30) == date(2026, 5, 15)
    assert local_cutoff_day(early, ZoneInfo("UTC"), 30) == date(2026, 5, 16)


def test_rollup_bounds_use_the_daily_and_the_coarse_retention_by_grain() -> None:
    tenant = settings(30, 60, 400)
    events = TABLES["rollup_user_events"]
    assert table_bound(events, tenant, NOW, Grain.DAY) == date(2026, 4, 16)
    assert table_bound(events, tenant, NOW, Grain.WEEK) == date(2025, 5, 5)  # cutoff 05-11
    assert table_bound(events, tenant, NOW, Grain.MONTH) == date(2025, 5, 1)
    assert table_bounds(events, {"a": tenant, "b": settings(30, 100, 500)}, NOW) == {
        Grain.DAY: {"a": date(2026, 4, 16), "b": date(2026, 3, 7)},
        Grain.WEEK: {"a": date(2025, 5, 5), "b": date(2025, 1, 25)},  # cutoff 01-31
        Grain.MONTH: {"a": date(2025, 5, 1), "b": date(2025, 1, 1)},
    }
    assert table_bounds(TABLES["rollup_session_pages"], {"a": tenant}, NOW) == {
        Grain.DAY: {"a": date(2026, 4, 16)}
    }
    with pytest.raises(ValueError, match="no rows of grain weekly"):
        table_bound(TABLES["rollup_session_pages"], tenant, NOW, Grain.WEEK)
    with pytest.raises(ValueError, match="no rows of grain"):
        table_bound(events, tenant, NOW)
    with pytest.raises(ValueError, match="no rows of grain"):
        table_bound(TABLES["usage_metrics"], tenant, NOW, Grain.DAY)


@pytest.mark.parametrize("grain", list(Grain))
def test_a_bucket_is_expired_exactly_when_its_last_day_is_before_the_cutoff(grain: Grain) -> None:
    def last_day(start: date) -> date:
        if grain is Grain.DAY:
            return start
        if grain is Grain.WEEK:
            return start + timedelta(days=6)
        return start.replace(day=calendar.monthrange(start.year, start.month)[1])

    def starts() -> list[date]:
        days = [date(2024, 1, 1) + timedelta(days=i) for i in range(800)]
        if grain is Grain.WEEK:
            return [d for d in days if d.weekday() == 0]
        if grain is Grain.MONTH:
            return [d for d in days if d.day == 1]
        return days

    buckets = starts()
    for offset in range(0, 760, 3):
        cutoff = date(2024, 2, 1) + timedelta(days=offset)
        bound = bucket_bound(cutoff, grain)
        for start in buckets:
            assert (start < bound) == (last_day(start) < cutoff), (grain, cutoff, start)


def test_partition_ranges_of_month_partitions() -> None:
    assert partition_range(TABLES["analytics_events"], "202412") == (
        datetime(2024, 12, 1, tzinfo=UTC),
        datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert partition_range(TABLES["usage_metrics"], "202402") == (date(2024, 2, 1), date(2024, 3, 1))
    assert partition_range(TABLES["rollup_user_events"], "202511") == (date(2025, 11, 1), date(2025, 12, 1))
    assert partition_range(TABLES["rollup_session_pages"], "202412") == (date(2024, 12, 1), date(2025, 1, 1))


def test_a_rollup_partition_is_dropped_only_when_every_grain_of_every_tenant_is_expired_there() -> None:
    """All grains share a rollup's monthly partitions: daily rows expired for everyone do not make their
    partition droppable while weekly or monthly rows of the same months are kept (they are scanned)."""
    table = TABLES["rollup_user_events"]
    months = ("202012", "202105", "202106", "202403", "202404", "202405", "202605")
    partitions = {f"p{month}": month for month in months}
    tenants = {"short": settings(30, 60, 400), "long": settings(395, 760, 1826)}
    # long: daily bound 2024-05-16, weekly 2021-06-08, monthly 2021-06-01; short: all later
    droppable, scanned = _split_partitions(table, partitions, table_bounds(table, tenants, NOW), True, True)
    assert droppable == ["p202012", "p202105"]  # ends on 2021-06-01, the earliest bound
    assert scanned == ["p202106", "p202403", "p202404", "p202405"]  # 202605 starts after every bound
    daily_only = TABLES["rollup_session_pages"]
    droppable, scanned = _split_partitions(
        daily_only, partitions, table_bounds(daily_only, tenants, NOW), True, True
    )
    assert droppable == ["p202012", "p202105", "p202106", "p202403", "p202404"]
    assert scanned == ["p202405"]
    not_all_tenants_known = _split_partitions(
        table, partitions, table_bounds(table, tenants, NOW), True, False
    )
    assert not_all_tenants_known == ([], [f"p{month}" for month in months[:-1]])


def test_the_longest_allowed_retention_is_the_validation_bound() -> None:
    assert (
        max_retention_days(Tier.RAW),
        max_retention_days(Tier.DAILY),
        max_retention_days(Tier.WEEKLY_MONTHLY),
    ) == (
        3660,
        3660,
        7320,
    )
    with pytest.raises(ValueError, match="less than or equal to 3660"):
        Retention(raw_days=3661, daily_rollup_days=3661, weekly_monthly_rollup_days=3661)


def test_the_last_ttl_of_every_retained_table_in_the_migrations_is_its_backstop() -> None:
    """Each table's TTL is the last ``MODIFY TTL`` applied to it; the per-grain tables of the old layout,
    whose TTLs 0012 set, are dropped by a later migration."""
    latest: dict[str, str] = {}
    dropped_after: dict[str, int] = {}
    for migration in load_migrations():
        for statement in migration.statements:
            flat = " ".join(statement.split())
            if found := re.fullmatch(r"ALTER TABLE (\w+) MODIFY TTL (.+)", flat):
                latest[found.group(1)] = flat
                dropped_after.pop(found.group(1), None)
            elif found := re.fullmatch(r"DROP TABLE IF EXISTS (\w+)", flat):
                dropped_after[found.group(1)] = migration.version
    for table in RETAINED_TABLES:
        assert latest.pop(table.name) == f"ALTER TABLE {table.name} MODIFY TTL {table.backstop_ttl()}"
    assert latest and set(latest) <= set(dropped_after)  # the old per-grain tables only
    assert all(name.endswith(("_daily", "_weekly", "_monthly")) for name in latest)
    product_rollups = {item.table for item in PRODUCT_ROLLUPS}
    rollup_statements = backstop_statements(t for t in ROLLUP_RETAINED if t.name in product_rollups)
    assert [m.statements for m in load_migrations() if m.name == "rollup_retention"] == [rollup_statements]
    lms = [t for t in RETAINED_TABLES if t.name.startswith(("lms_", "rollup_lms_"))]
    assert len(lms) == 4 + 7
    lms_statements = set(backstop_statements(lms))  # written by the migrations creating the tables
    written = {" ".join(s.split()) for m in load_migrations() if m.version in (20, 21) for s in m.statements}
    assert lms_statements <= written
    assert len(backstop_statements()) == len(RETAINED_TABLES)


def test_the_backstop_ttl_is_one_expression_per_table_choosing_the_days_by_grain() -> None:
    assert TABLES["analytics_events"].backstop_ttl() == "toDateTime(timestamp) + INTERVAL 3661 DAY"
    assert TABLES["usage_metrics"].backstop_ttl() == "date + INTERVAL 3662 DAY"
    assert TABLES["rollup_session_pages"].backstop_ttl() == "bucket + INTERVAL 3662 DAY"
    coarse = "bucket + toIntervalDay(multiIf(grain = 'daily', 3662, grain = 'weekly', 7329, 7353))"
    for table in ROLLUP_RETAINED:
        if table.grains == (Grain.DAY, Grain.WEEK, Grain.MONTH):
            assert table.backstop_ttl() == coarse, table.name
        else:
            assert table.grains == (Grain.DAY,), table.name
            assert table.name in (
                "rollup_session_pages",
                "rollup_lms_attempts",
                "rollup_lms_enrollment_progress",
            )
            assert table.backstop_ttl() == "bucket + INTERVAL 3662 DAY"
    assert TABLES["lms_activity"].backstop_ttl() == "toDateTime(timestamp) + INTERVAL 3661 DAY"
    days = TABLES["rollup_user_events"]
    assert [days.backstop_days(grain) for grain in days.grains] == [3662, 7329, 7353]


SLICES = [(table, grain) for table in RETAINED_TABLES for grain in table.slices]


@pytest.mark.parametrize(("table", "grain"), SLICES, ids=[f"{t.name}-{g or 'raw'}" for t, g in SLICES])
def test_the_backstop_never_removes_a_row_the_job_keeps_at_the_longest_retention(
    table: RetainedTable, grain: Grain | None
) -> None:
    """The TTL (compared with the server's UTC clock) fires only for values the job already deletes for a
    tenant at the maximum retention, in any zone; and at most a bucket plus two days after it."""
    longest = {Tier.RAW: 3660, Tier.DAILY: 3660, Tier.WEEKLY_MONTHLY: 7320}[tier_of(grain)]
    days = table.backstop_days(grain)
    assert longest <= days <= longest + 2 + {None: 0, Grain.DAY: 0, Grain.WEEK: 7, Grain.MONTH: 31}[grain]
    assert str(days) in table.backstop_ttl()
    for hour in range(0, 48, 5):
        now = NOW + timedelta(hours=hour)
        for zone in EXTREME_ZONES:
            tenant = settings(3660, 3660, 7320, zone)  # every tier at its longest
            bound = table_bound(table, tenant, now, grain)
            if table.is_datetime:
                for minutes in range(-3003, 3000, 7):  # includes 0
                    moment = now - timedelta(days=days, minutes=minutes) + timedelta(milliseconds=500)
                    if moment.replace(microsecond=0) + timedelta(days=days) <= now:  # toDateTime() floors
                        assert moment < bound
                continue
            for back in range(-40, 40):
                value: date = now.date() - timedelta(days=days + back)
                if grain is Grain.WEEK:
                    value -= timedelta(days=value.weekday())
                if grain is Grain.MONTH:
                    value = value.replace(day=1)
                ttl_moment = datetime.combine(value + timedelta(days=days), datetime.min.time(), UTC)
                if ttl_moment <= now:
                    assert value < bound, (zone, now, value)


def test_cli_registers_retention_with_a_dry_run_unless_applied() -> None:
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers(dest="command", required=True))
    plain = parser.parse_args(["retention"])
    assert (plain.apply, plain.dry_run, plain.tenant, plain.json) == (False, False, None, False)
    applied = parser.parse_args(["retention", "--apply", "--dry-run", "--tenant", "acme"])
    assert (applied.apply, applied.dry_run, applied.tenant) == (True, True, "acme")
    assert callable(applied.handler)
