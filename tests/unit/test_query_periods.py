"""Periods resolve to whole local days in the tenant's zone; the planner covers a range exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from query_api.periods import ParameterError, Segment, plan, points, resolve
from schemas.rollups import Grain

NEW_YORK = ZoneInfo("America/New_York")
# 2027-01-05 03:30 UTC is still Monday 2027-01-04 in New York
NOW = datetime(2027, 1, 5, 3, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "first", "last", "previous_first", "previous_last"),
    [
        ("last_7_days", date(2026, 12, 29), date(2027, 1, 4), date(2026, 12, 22), date(2026, 12, 28)),
        ("last_30_days", date(2026, 12, 6), date(2027, 1, 4), date(2026, 11, 6), date(2026, 12, 5)),
        ("last_90_days", date(2026, 10, 7), date(2027, 1, 4), date(2026, 7, 9), date(2026, 10, 6)),
        ("this_week", date(2027, 1, 4), date(2027, 1, 4), date(2027, 1, 3), date(2027, 1, 3)),
        ("this_month", date(2027, 1, 1), date(2027, 1, 4), date(2026, 12, 28), date(2026, 12, 31)),
        ("last_month", date(2026, 12, 1), date(2026, 12, 31), date(2026, 10, 31), date(2026, 11, 30)),
        ("this_year", date(2027, 1, 1), date(2027, 1, 4), date(2026, 12, 28), date(2026, 12, 31)),
    ],
)
def test_day_periods_are_local_days_with_an_equal_previous_range(
    name: str, first: date, last: date, previous_first: date, previous_last: date
) -> None:
    period = resolve(name, NOW, NEW_YORK)
    assert (period.current.first_day, period.current.last_day) == (first, last)
    assert (period.previous.first_day, period.previous.last_day) == (previous_first, previous_last)
    assert period.current.start == datetime(first.year, first.month, first.day, tzinfo=NEW_YORK).astimezone(
        UTC
    )
    assert period.previous.end == period.current.start


def test_custom_ranges_and_their_errors() -> None:
    period = resolve("custom", NOW, NEW_YORK, "2026-12-20", "2027-01-03")
    assert period.current.days == 15 and period.previous.last_day == date(2026, 12, 19)
    for start, end, parameter in [
        ("2027-01-03", "2026-12-20", "end_date"),
        (None, "2026-12-20", "start_date"),
        ("2026-12-20", None, "end_date"),
        ("20/12/2026", "2027-01-03", "start_date"),
        ("2015-01-01", "2027-01-03", "end_date"),
    ]:
        with pytest.raises(ParameterError) as caught:
            resolve("custom", NOW, NEW_YORK, start, end)
        assert caught.value.parameter == parameter
    with pytest.raises(ParameterError) as unknown:
        resolve("yesterday", NOW, NEW_YORK)
    assert unknown.value.parameter == "time_period"


def test_last_24_hours_is_an_instant_window() -> None:
    period = resolve("last_24_hours", NOW, NEW_YORK)
    assert period.current.is_hourly and period.current.end == NOW
    assert period.current.start == NOW - timedelta(hours=24) == period.previous.end
    hours = points(period.current)
    assert len(hours) == 25 and hours[0] == datetime(2027, 1, 4, 3, tzinfo=UTC)


def _days_of(segments: list[Segment]) -> list[date]:
    covered = []
    for segment in segments:
        bucket = segment.first
        while bucket <= segment.last:
            if segment.grain is Grain.DAY:
                covered.append(bucket)
                bucket += timedelta(days=1)
            elif segment.grain is Grain.WEEK:
                covered.extend(bucket + timedelta(days=i) for i in range(7))
                bucket += timedelta(days=7)
            else:
                nxt = (bucket + timedelta(days=32)).replace(day=1)
                covered.extend(bucket + timedelta(days=i) for i in range((nxt - bucket).days))
                bucket = nxt
    return covered


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (date(2026, 12, 29), date(2027, 1, 4)),
        (date(2026, 7, 1), date(2027, 1, 5)),
        (date(2026, 1, 1), date(2026, 12, 31)),
        (date(2025, 11, 15), date(2027, 1, 5)),
        (date(2024, 2, 29), date(2026, 3, 1)),
    ],
)
def test_plan_covers_the_range_exactly_once(first: date, last: date) -> None:
    segments = plan(first, last)
    covered = _days_of(segments)
    expected = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    assert covered == expected
    if (last - first).days > 92:
        assert any(s.grain is not Grain.DAY for s in segments), "long ranges read coarser rollups"
