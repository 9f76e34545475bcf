"""``PeriodIndex``'s bound arrays, read the way its SQL joins read them, give each rollup row the periods it
counts in: the periods whose cover holds it, the periods a day is in, the period ends on or after a day."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from query_api.lms.grains import cover
from query_api.lms.models import LmsPeriod
from query_api.lms.spans import PeriodIndex

ZONE = ZoneInfo("Europe/Berlin")
EPOCH = date(1970, 1, 1)
GRAIN_NUMBER = {"daily": 1, "weekly": 2, "monthly": 3}


def _periods(*ranges: tuple[date, date]) -> list[LmsPeriod]:
    return [LmsPeriod("t", ZONE, first, last) for first, last in ranges]


def _weeks(first: date, last: date) -> list[tuple[date, date]]:
    found, day = [], first
    while day <= last:
        end = min(day + timedelta(days=6 - day.weekday()), last)
        found.append((day, end))
        day = end + timedelta(days=1)
    return found


CASES = {
    "one month-spanning range": _periods((date(2026, 1, 20), date(2026, 3, 9))),
    "a range and its weeks": _periods(
        (date(2026, 11, 8), date(2026, 12, 7)), *_weeks(date(2026, 11, 8), date(2026, 12, 7))
    ),
    "thirty single days": _periods(*[(date(2026, 4, 1) + timedelta(days=n),) * 2 for n in range(30)]),
    "from before 1970 (no rows there, but a valid period)": _periods(
        (date(1969, 12, 1), date(1971, 1, 31)), (date(1969, 11, 1), date(1969, 11, 30))
    ),
    "overlapping, same last day": _periods(
        (date(2025, 12, 1), date(2026, 2, 28)), (date(2026, 2, 1), date(2026, 2, 28))
    ),
}


def _number(day: date) -> int:
    return (day - EPOCH).days


def _rows(periods: list[LmsPeriod]) -> list[tuple[str, date]]:
    """Every (grain, bucket) a rollup may hold from a month before the first period to a month after."""
    first = min(p.first for p in periods) - timedelta(days=40)
    last = max(p.last for p in periods) + timedelta(days=40)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return (
        [("daily", day) for day in days]
        + [("weekly", day) for day in days if day.weekday() == 0]
        + [("monthly", day) for day in days if day.day == 1]
    )


def _lookup(array: list[Any], position: int, empty: Any) -> Any:
    """ClickHouse's ``array[position]``: 1-based, the type's default outside."""
    return array[position - 1] if 1 <= position <= len(array) else empty


@pytest.mark.parametrize("case", CASES)
def test_cover_join_gives_the_periods_whose_cover_holds_the_row(case: str) -> None:
    periods = CASES[case]
    params = PeriodIndex(periods).params()
    for grain, bucket in _rows(periods):
        key = _number(bucket) * 4 + GRAIN_NUMBER[grain]
        position = params["cover_keys"].index(key) + 1 if key in params["cover_keys"] else 0  # indexOf
        found = _lookup(params["cover_spans"], position, [])
        expected = [
            n
            for n, period in enumerate(periods, start=1)
            if any(
                segment.grain.value == grain and segment.first <= bucket <= segment.last
                for segment in cover(period.first, period.last)
            )
        ]
        assert found == expected, (grain, bucket)
        if expected and grain == "weekly":
            assert bucket in params["weeks"]
        if expected and grain == "monthly":
            assert bucket in params["months"]


@pytest.mark.parametrize("case", CASES)
def test_cover_and_days_join_adds_the_periods_a_day_is_in(case: str) -> None:
    periods = CASES[case]
    params = PeriodIndex(periods).params()
    for grain, bucket in _rows(periods):
        if not params["spans_first"] <= bucket <= params["spans_last"]:
            continue  # the statement reads the rows of [spans_first, spans_last] only
        key = _number(bucket) * 4 + GRAIN_NUMBER[grain]
        position = params["cover_keys"].index(key) + 1 if key in params["cover_keys"] else 0
        with_days = _lookup(params["cover_day_spans"], position, [])
        cover_only = _lookup(params["cover_spans"], position, [])
        days = [n - PeriodIndex.DAYS for n in with_days if n > PeriodIndex.DAYS]
        assert [n for n in with_days if n <= PeriodIndex.DAYS] == cover_only, (grain, bucket)
        expected = [n for n, p in enumerate(periods, start=1) if p.first <= bucket <= p.last]
        assert days == (expected if grain == "daily" else []), (grain, bucket)


@pytest.mark.parametrize("case", CASES)
def test_up_to_join_gives_the_period_ends_on_or_after_a_day(case: str) -> None:
    periods = CASES[case]
    index = PeriodIndex(periods)
    params = index.params()
    lasts = sorted({p.last for p in periods})
    history = min(p.first for p in periods) - timedelta(days=400)
    day = history
    while day <= params["spans_last"]:  # the statement reads the daily rows up to spans_last
        start = (
            1
            if _number(day) <= params["lasts_first"]
            else _lookup(params["first_last_after"], _number(day) - params["lasts_first"], 0)
        )
        numbers = list(range(start, params["lasts_count"] + 1))
        assert [lasts[n - 1] for n in numbers] == [end for end in lasts if end >= day], day
        for n in numbers:
            assert index.ending_at(n) == [i for i, p in enumerate(periods) if p.last == lasts[n - 1]]
        day += timedelta(days=1)


def test_periods_of_two_zones_are_refused() -> None:
    with pytest.raises(ValueError, match="one tenant and zone"):
        PeriodIndex(
            [
                LmsPeriod("t", ZONE, date(2026, 1, 1), date(2026, 1, 2)),
                LmsPeriod("t", ZoneInfo("UTC"), date(2026, 1, 1), date(2026, 1, 2)),
            ]
        )
