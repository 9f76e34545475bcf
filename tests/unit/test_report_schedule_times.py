"""When a report schedule runs: cron expressions in IANA zones across DST changes (as Debian cron runs
them: a skipped local time right after the change, a repeated one once), and the refusals of bad ones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from query_api.lms_reports.schedules import ScheduleError, next_run


def test_a_daily_time_in_berlin_is_utc_plus_one_then_plus_two() -> None:
    assert next_run("0 7 * * *", "Europe/Berlin", datetime(2026, 3, 27, 12, tzinfo=UTC)) == datetime(
        2026, 3, 28, 6, tzinfo=UTC
    )
    assert next_run("0 7 * * *", "Europe/Berlin", datetime(2026, 3, 28, 12, tzinfo=UTC)) == datetime(
        2026, 3, 29, 5, tzinfo=UTC
    )


def test_a_time_skipped_by_spring_forward_runs_right_after_the_change() -> None:
    # 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not exist that day
    after = datetime(2026, 3, 28, 23, tzinfo=UTC)
    assert next_run("30 2 * * *", "Europe/Berlin", after) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    following = next_run("30 2 * * *", "Europe/Berlin", datetime(2026, 3, 29, 1, 0, tzinfo=UTC))
    assert following == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)  # 02:30 CEST


def test_a_time_repeated_by_fall_back_runs_once() -> None:
    # 2026-10-25 03:00 CEST falls back to 02:00 CET: 02:30 happens twice
    first = next_run("30 2 * * *", "Europe/Berlin", datetime(2026, 10, 24, 23, tzinfo=UTC))
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert next_run("30 2 * * *", "Europe/Berlin", first) == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)


def test_new_york_and_named_days() -> None:
    monday = next_run("0 9 * * MON", "America/New_York", datetime(2026, 11, 1, 12, tzinfo=UTC))
    assert monday == datetime(2026, 11, 2, 14, tzinfo=UTC)  # EST after 2026-11-01


@pytest.mark.parametrize(
    ("cron", "zone", "field"),
    [
        ("61 * * * *", "UTC", "cron_expression"),
        ("* * *", "UTC", "cron_expression"),
        ("0 0 30 2 *", "UTC", "cron_expression"),
        ("0 7 * * *", "Mars/Olympus", "timezone"),
        ("0 7 * * *", "../../etc/passwd", "timezone"),
    ],
)
def test_bad_expressions_and_zones_are_refused_naming_the_field(cron: str, zone: str, field: str) -> None:
    with pytest.raises(ScheduleError) as refused:
        next_run(cron, zone, datetime(2026, 1, 1, tzinfo=UTC))
    assert refused.value.field == field
