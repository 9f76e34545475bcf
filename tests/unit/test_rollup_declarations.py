"""The rollup migration is what the declarations generate, and bucketing follows the calendar rules."""

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import schemas.rollups as rollups
from schemas.rollups import ROLLUPS, Grain, all_ddl, bucket_start

MIGRATION = Path(rollups.__file__).parent / "migrations" / "0006_rollups.sql"


def test_migration_0006_is_exactly_what_the_declarations_generate() -> None:
    body = MIGRATION.read_text()
    generated = "".join(f"{statement};\n\n" for statement in all_ddl())
    assert body.split("\n", 1)[1] == generated


def test_every_rollup_has_a_table_and_view_per_grain() -> None:
    statements = list(all_ddl())
    for item in ROLLUPS:
        for grain in item.grains:
            assert any(s.startswith(f"CREATE TABLE IF NOT EXISTS {item.table(grain)}\n") for s in statements)
            assert any(f" {item.view(grain)} TO {item.table(grain)} AS" in s for s in statements)


def test_buckets_are_local_day_iso_monday_and_month() -> None:
    new_years_eve_utc = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    berlin = ZoneInfo("Europe/Berlin")  # already 2027-01-01 00:30 there
    assert bucket_start(new_years_eve_utc, Grain.DAY, berlin) == date(2027, 1, 1)
    assert bucket_start(new_years_eve_utc, Grain.WEEK, berlin) == date(2026, 12, 28)  # ISO week 53's Monday
    assert bucket_start(new_years_eve_utc, Grain.MONTH, berlin) == date(2027, 1, 1)
    assert bucket_start(new_years_eve_utc, Grain.MONTH, ZoneInfo("UTC")) == date(2026, 12, 1)
    # US fall-back night: 05:30 UTC is 01:30 EDT... and 06:30 UTC is 01:30 EST, still Sunday the 1st
    new_york = ZoneInfo("America/New_York")
    assert bucket_start(datetime(2026, 11, 1, 6, 30, tzinfo=UTC), Grain.DAY, new_york) == date(2026, 11, 1)
    assert bucket_start(datetime(2026, 11, 2, 4, 59, tzinfo=UTC), Grain.DAY, new_york) == date(2026, 11, 1)
    assert bucket_start(datetime(2026, 11, 2, 5, 0, tzinfo=UTC), Grain.WEEK, new_york) == date(2026, 11, 2)
