"""Time periods of the read endpoints, resolved in the tenant's time zone, and the one place that decides
which rollup grain serves a range.

Every day-based period is a range of whole local days ``[first, last]`` (today included, so the current day
is partial), matching the rollups' day buckets exactly. ``last_24_hours`` is the one instant-based period:
the 24 hours before now, served from raw rows within that bounded window (see :mod:`query_api.raw_feeds`).
The *previous* period is the range of equal length immediately before, so ``change_percentage`` always
compares like with like.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from schemas.rollups import Grain

MAX_CUSTOM_DAYS = 5 * 366
"""Longest ``custom`` range: the retention of monthly rollups (five years)."""


class TimePeriod(StrEnum):
    LAST_24_HOURS = "last_24_hours"
    LAST_7_DAYS = "last_7_days"
    LAST_30_DAYS = "last_30_days"
    LAST_90_DAYS = "last_90_days"
    THIS_WEEK = "this_week"
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    THIS_YEAR = "this_year"
    CUSTOM = "custom"


class ParameterError(ValueError):
    """A query parameter is unknown, malformed or inconsistent; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True, slots=True)
class Range:
    """``[start, end)`` in UTC, plus the local days it covers (``None`` for ``last_24_hours``)."""

    start: datetime
    end: datetime
    first_day: date | None
    last_day: date | None

    @property
    def days(self) -> int:
        if self.first_day is None or self.last_day is None:
            return 1
        return (self.last_day - self.first_day).days + 1

    @property
    def is_hourly(self) -> bool:
        return self.first_day is None


@dataclass(frozen=True, slots=True)
class Period:
    name: TimePeriod
    zone: ZoneInfo
    current: Range
    previous: Range


def _day_range(first: date, last: date, zone: ZoneInfo) -> Range:
    start = datetime.combine(first, time(), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
    return Range(start, end, first, last)


def _parse_day(parameter: str, value: str | None) -> date:
    if not value:
        raise ParameterError(parameter, f"{parameter} is required when time_period is custom")
    try:
        return date.fromisoformat(value[:10]) if len(value) >= 10 else date.fromisoformat(value)
    except ValueError as exc:
        raise ParameterError(parameter, f"{parameter} must be a date (YYYY-MM-DD), got {value!r}") from exc


def parse_period(value: str) -> TimePeriod:
    try:
        return TimePeriod(value)
    except ValueError as exc:
        allowed = ", ".join(p.value for p in TimePeriod)
        raise ParameterError("time_period", f"unknown time_period {value!r}; one of: {allowed}") from exc


def resolve(
    name: str,
    now: datetime,
    zone: ZoneInfo,
    start_date: str | None = None,
    end_date: str | None = None,
) -> Period:
    """The current and previous range of period ``name`` at ``now`` in ``zone``."""
    period = parse_period(name)
    if period is TimePeriod.LAST_24_HOURS:
        end = now.astimezone(UTC)
        current = Range(end - timedelta(hours=24), end, None, None)
        previous = Range(end - timedelta(hours=48), end - timedelta(hours=24), None, None)
        return Period(period, zone, current, previous)
    today = now.astimezone(zone).date()
    first, last = _days(period, today, start_date, end_date)
    length = (last - first).days + 1
    previous_last = first - timedelta(days=1)
    return Period(
        period,
        zone,
        _day_range(first, last, zone),
        _day_range(previous_last - timedelta(days=length - 1), previous_last, zone),
    )


def _days(period: TimePeriod, today: date, start_date: str | None, end_date: str | None) -> tuple[date, date]:
    fixed = {
        TimePeriod.LAST_7_DAYS: 7,
        TimePeriod.LAST_30_DAYS: 30,
        TimePeriod.LAST_90_DAYS: 90,
    }
    if period in fixed:
        return today - timedelta(days=fixed[period] - 1), today
    if period is TimePeriod.THIS_WEEK:
        return today - timedelta(days=today.weekday()), today
    if period is TimePeriod.THIS_MONTH:
        return today.replace(day=1), today
    if period is TimePeriod.LAST_MONTH:
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    if period is TimePeriod.THIS_YEAR:
        return today.replace(month=1, day=1), today
    first, last = _parse_day("start_date", start_date), _parse_day("end_date", end_date)
    if last < first:
        raise ParameterError("end_date", f"end_date {last} is before start_date {first}")
    if (last - first).days + 1 > MAX_CUSTOM_DAYS:
        raise ParameterError("end_date", f"a custom range spans at most {MAX_CUSTOM_DAYS} days")
    return first, last


# ---- which grain serves a range ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    """Read ``grain`` rollup buckets ``first..last`` (bucket starts, inclusive)."""

    grain: Grain
    first: date
    last: date


def series_grain(days: int) -> Grain:
    """Granularity of a time series over ``days`` days: daily up to a quarter, weekly up to a year."""
    if days <= 92:
        return Grain.DAY
    if days <= 366:
        return Grain.WEEK
    return Grain.MONTH


def display_bucket(day: date, grain: Grain, first_day: date) -> date:
    """The series point a stored bucket starting on ``day`` belongs to (clipped to the range start)."""
    if grain is Grain.DAY:
        start = day
    elif grain is Grain.WEEK:
        start = day - timedelta(days=day.weekday())
    else:
        start = day.replace(day=1)
    return max(start, first_day)


def series_points(first: date, last: date, grain: Grain) -> list[date]:
    """Every point of a series over ``[first, last]``, so days without data show as zero."""
    points = []
    day = first
    while day <= last:
        points.append(display_bucket(day, grain, first))
        if grain is Grain.DAY:
            day += timedelta(days=1)
        elif grain is Grain.WEEK:
            day = day - timedelta(days=day.weekday()) + timedelta(days=7)
        else:
            day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return points


def points(span: Range) -> list[date | datetime]:
    """The series points of ``span``: UTC hours for an hourly range, else days, weeks or months."""
    if span.first_day is None or span.last_day is None:
        hour = span.start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        hours: list[date | datetime] = []
        while hour < span.end:
            hours.append(hour)
            hour += timedelta(hours=1)
        return hours
    return list(series_points(span.first_day, span.last_day, series_grain(span.days)))


def plan(first: date, last: date) -> list[Segment]:
    """Rollup buckets covering ``[first, last]`` exactly, with as few rows as the series grain allows.

    Whole buckets of the range's series grain are read from that grain's rollup; the partial buckets at
    either edge from the daily rollup. So every stored row maps to exactly one series point, and the
    number of rows read depends on the range's length, never on how many raw events it holds.
    """
    grain = series_grain((last - first).days + 1)
    if grain is Grain.DAY:
        return [Segment(Grain.DAY, first, last)]
    segments: list[Segment] = []
    for point in series_points(first, last, grain):
        bucket_end = _bucket_last_day(point, grain)
        whole = point == _bucket_first_day(point, grain) and bucket_end <= last
        if whole:
            segments.append(Segment(grain, point, point))
        else:
            segments.append(Segment(Grain.DAY, point, min(bucket_end, last)))
    return _merge(segments)


def plan_adjacent(earlier: Range, later: Range) -> list[Segment]:
    """One plan for two day ranges where ``earlier`` ends the day before ``later`` starts (a period and its
    previous one): each planned as above, then joined, so both are read in one pass over each table."""
    assert earlier.first_day and earlier.last_day and later.first_day and later.last_day
    assert earlier.last_day + timedelta(days=1) == later.first_day, "ranges must be adjacent"
    return _merge([*plan(earlier.first_day, earlier.last_day), *plan(later.first_day, later.last_day)])


def _bucket_first_day(day: date, grain: Grain) -> date:
    if grain is Grain.WEEK:
        return day - timedelta(days=day.weekday())
    if grain is Grain.MONTH:
        return day.replace(day=1)
    return day


def _bucket_last_day(day: date, grain: Grain) -> date:
    if grain is Grain.WEEK:
        return _bucket_first_day(day, grain) + timedelta(days=6)
    if grain is Grain.MONTH:
        return (day.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return day


def _merge(segments: list[Segment]) -> list[Segment]:
    """Join adjacent segments of one grain into one bucket range."""
    merged: list[Segment] = []
    for segment in segments:
        if merged and merged[-1].grain is segment.grain:
            merged[-1] = Segment(segment.grain, merged[-1].first, segment.last)
        else:
            merged.append(segment)
    return merged
