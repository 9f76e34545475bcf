"""The rollup DDL the declarations generate, and bucketing follows the calendar rules.

That the migrations build exactly this DDL is checked against a real ClickHouse in
``tests/integration/test_migrations.py``."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from schemas.rollups import ALL_GRAINS, ROLLUPS, Grain, all_ddl, buckets, grain_condition, rollup, view_ddl


def test_every_rollup_has_one_table_and_one_view() -> None:
    statements = list(all_ddl())
    for item in ROLLUPS:
        tables = [s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS {item.table}\n")]
        views = [s for s in statements if f" {item.view} TO {item.table} AS" in s]
        assert len(tables) == len(views) == 1, item.name
        assert "grain Enum8('daily' = 1, 'weekly' = 2, 'monthly' = 3)" in tables[0]
        # a person's contribution is keyed by the person (erasure deletes exactly their rows)
        assert item.personal == ("user_id" in item.dimensions), item.name
        lead = "tenant_id, user_id" if item.personal else "tenant_id"
        assert f"ORDER BY ({lead}, grain, bucket" in tables[0]


def test_a_view_expands_each_feed_row_into_its_grains() -> None:
    ddl = view_ddl(rollup("user_events"))
    assert "ARRAY JOIN ['daily', 'weekly', 'monthly'] AS grain, [day, week, month] AS bucket" in ddl
    daily_only = view_ddl(rollup("session_pages"))
    assert "ARRAY JOIN" not in daily_only and "'daily' AS grain, day AS bucket" in daily_only


def test_a_grain_condition_bounds_each_grain_by_its_own_range() -> None:
    condition = grain_condition(
        [
            (Grain.DAY, "'2026-01-05'", "'2026-01-06'"),
            (Grain.MONTH, "{a:Date}", "{b:Date}"),
            (Grain.DAY, "'2026-03-02'", "'2026-03-03'"),
        ]
    )
    assert condition == (
        "((grain = 'daily' AND bucket BETWEEN '2026-01-05' AND '2026-01-06')"
        " OR (grain = 'monthly' AND bucket BETWEEN {a:Date} AND {b:Date})"
        " OR (grain = 'daily' AND bucket BETWEEN '2026-03-02' AND '2026-03-03'))"
    )


def bucket_start(moment: datetime, grain: Grain, zone: ZoneInfo) -> date:
    """First day of ``moment``'s ``grain`` bucket in ``zone``, as the feeds' rows carry it."""
    return buckets(moment, zone)[ALL_GRAINS.index(grain)]


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
