"""Retention cutoffs, bucket bounds, partition ranges and the TTL backstop, without a database."""

from __future__ import annotations

import argparse
import calendar
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from schemas.migrate import load_migrations
from schemas.rollups import ROLLUPS, Grain
from schemas.tenant_config import Retention, TenantSettings
from stream_processors.retention import (
    RETAINED_TABLES,
    RetainedTable,
    Tier,
    add_cli,
    backstop_statements,
    bucket_bound,
    local_cutoff_day,
    max_retention_days,
    partition_range,
    table_bound,
)
from stream_processors.transforms import RAW_TABLES

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


def test_every_raw_and_rollup_table_is_retained_with_its_time_column_and_tier() -> None:
    raw = {
        name: (t.column, t.tier, t.is_datetime)
        for name, t in TABLES.items()
        if not name.startswith("rollup_")
    }
    assert raw == {
        "analytics_events": ("timestamp", Tier.RAW, True),
        "performance_metrics": ("timestamp", Tier.RAW, True),
        "usage_metrics": ("date", Tier.RAW, False),
        "activity_logs": ("timestamp", Tier.RAW, True),
    }
    assert set(raw) == set(RAW_TABLES.values())
    rollups = {name for name in TABLES if name.startswith("rollup_")}
    assert rollups == {item.table(grain) for item in ROLLUPS for grain in item.grains}
    assert len(rollups) == 21
    for name in rollups:
        table = TABLES[name]
        assert (table.column, table.is_datetime) == ("bucket", False)
        assert table.tier is (Tier.DAILY if name.endswith("_daily") else Tier.COARSE)
        assert table.grain is not None and name.endswith(table.grain.value)


def test_partition_keys_match_the_create_statements_of_the_migrations() -> None:
    sql = "\n".join(m.sql for m in load_migrations())
    for table in RETAINED_TABLES:
        create = re.search(rf"CREATE TABLE IF NOT EXISTS {table.name}\b.*?;", sql, flags=re.DOTALL)
        assert create is not None, table.name
        assert f"PARTITION BY {table.partition_key}\n" in create.group(0), table.name


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


def test_rollup_bounds_use_the_daily_and_the_coarse_retention() -> None:
    tenant = settings(30, 60, 400)
    assert table_bound(TABLES["rollup_user_events_daily"], tenant, NOW) == date(2026, 4, 16)
    assert table_bound(TABLES["rollup_user_events_weekly"], tenant, NOW) == date(2025, 5, 5)  # cutoff 05-11
    assert table_bound(TABLES["rollup_user_events_monthly"], tenant, NOW) == date(2025, 5, 1)


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


def test_partition_ranges_of_month_and_year_partitions() -> None:
    assert partition_range(TABLES["analytics_events"], "202412") == (
        datetime(2024, 12, 1, tzinfo=UTC),
        datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert partition_range(TABLES["usage_metrics"], "202402") == (date(2024, 2, 1), date(2024, 3, 1))
    assert partition_range(TABLES["rollup_user_events_daily"], "202511") == (
        date(2025, 11, 1),
        date(2025, 12, 1),
    )
    assert partition_range(TABLES["rollup_user_events_weekly"], "2021") == (
        date(2021, 1, 1),
        date(2022, 1, 1),
    )


def test_the_longest_allowed_retention_is_the_validation_bound() -> None:
    assert (
        max_retention_days(Tier.RAW),
        max_retention_days(Tier.DAILY),
        max_retention_days(Tier.COARSE),
    ) == (
        3660,
        3660,
        7320,
    )
    with pytest.raises(ValueError, match="less than or equal to 3660"):
        Retention(raw_days=3661, daily_rollup_days=3661, weekly_monthly_rollup_days=3661)


def test_the_migrations_declare_exactly_the_backstop_ttls() -> None:
    latest: dict[str, str] = {}
    for migration in load_migrations():
        for statement in migration.statements:
            found = re.fullmatch(r"ALTER TABLE (\w+) MODIFY TTL (.+)", " ".join(statement.split()))
            if found:
                latest[found.group(1)] = found.group(2)
    assert latest == {t.name: t.backstop_ttl() for t in RETAINED_TABLES}
    assert len(backstop_statements()) == len(RETAINED_TABLES)
    assert TABLES["analytics_events"].backstop_ttl() == "toDateTime(timestamp) + INTERVAL 3661 DAY"
    assert TABLES["usage_metrics"].backstop_ttl() == "date + INTERVAL 3662 DAY"
    assert TABLES["rollup_user_events_weekly"].backstop_ttl() == "bucket + INTERVAL 7329 DAY"
    assert TABLES["rollup_user_events_monthly"].backstop_ttl() == "bucket + INTERVAL 7353 DAY"


def _ttl_days(table: RetainedTable) -> int:
    return int(re.search(r"INTERVAL (\d+) DAY", table.backstop_ttl()).group(1))  # type: ignore[union-attr]


@pytest.mark.parametrize("table", RETAINED_TABLES, ids=lambda t: t.name)
def test_the_backstop_never_removes_a_row_the_job_keeps_at_the_longest_retention(
    table: RetainedTable,
) -> None:
    """The TTL (compared with the server's UTC clock) fires only for values the job already deletes for a
    tenant at the maximum retention, in any zone; and at most a bucket plus two days after it."""
    longest = {Tier.RAW: 3660, Tier.DAILY: 3660, Tier.COARSE: 7320}[table.tier]
    days = _ttl_days(table)
    assert days >= longest
    for hour in range(0, 48, 5):
        now = NOW + timedelta(hours=hour)
        for zone in EXTREME_ZONES:
            tenant = settings(3660, 3660, 7320, zone)  # every tier at its longest
            bound = table_bound(table, tenant, now)
            if table.is_datetime:
                for minutes in range(-3003, 3000, 7):  # includes 0
                    moment = now - timedelta(days=days, minutes=minutes) + timedelta(milliseconds=500)
                    if moment.replace(microsecond=0) + timedelta(days=days) <= now:  # toDateTime() floors
                        assert moment < bound
                continue
            for back in range(-40, 40):
                value: date = now.date() - timedelta(days=days + back)
                if table.grain is Grain.WEEK:
                    value -= timedelta(days=value.weekday())
                if table.grain is Grain.MONTH:
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
