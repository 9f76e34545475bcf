"""Which rollup rows serve an LMS period: the coarsest exact cover of the local days ``[first, last]``.

The product's planner (:func:`query_api.periods.plan`) picks a grain per series point, so a 7-day or a
one-month range reads daily rows. The LMS models are one figure per period, not a series, so here every
whole calendar month of the range is read from the monthly rows, every whole ISO week left around them
from the weekly rows and the remaining days from the daily rows: each day of the range is in exactly one
row, and a week or month request reads one row per key. Sums add, unique counts merge
(``uniqExactMerge``), so the answer is the same whichever grains serve it; figures that need days (active
days) read the daily rows themselves.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from query_api.periods import Segment
from schemas.rollups import Grain, grain_condition


def next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _weeks_and_days(first: date, last: date) -> list[Segment]:
    """Whole ISO weeks inside ``[first, last]`` from the weekly rows, the days around them from the daily."""
    if first > last:
        return []
    monday = first + timedelta(days=(7 - first.weekday()) % 7)
    weeks = (last - monday).days + 1 >= 7 if monday <= last else False
    if not weeks:
        return [Segment(Grain.DAY, first, last)]
    last_monday = last - timedelta(days=(last.weekday() + 1) % 7) - timedelta(days=6)
    segments = []
    if monday > first:
        segments.append(Segment(Grain.DAY, first, monday - timedelta(days=1)))
    segments.append(Segment(Grain.WEEK, monday, last_monday))
    if last_monday + timedelta(days=6) < last:
        segments.append(Segment(Grain.DAY, last_monday + timedelta(days=7), last))
    return segments


def cover(first: date, last: date) -> list[Segment]:
    """Segments whose buckets hold every day of ``[first, last]`` exactly once, coarsest first: whole
    months, then whole weeks, then days. A segment's ``first``/``last`` are bucket starts."""
    if last < first:
        raise ValueError(f"the period ends ({last}) before it starts ({first})")
    month = first if first.day == 1 else next_month(first)
    months_end = month
    while next_month(months_end) - timedelta(days=1) <= last:
        months_end = next_month(months_end)
    if months_end == month:  # no whole month
        return _weeks_and_days(first, last)
    last_month = (months_end - timedelta(days=1)).replace(day=1)
    return [
        *_weeks_and_days(first, month - timedelta(days=1)),
        Segment(Grain.MONTH, month, last_month),
        *_weeks_and_days(months_end, last),
    ]


def period_condition(first: date, last: date, params: dict[str, Any], prefix: str = "p") -> str:
    """SQL true for the rollup rows of :func:`cover` (``grain``/``bucket`` columns), values bound in
    ``params`` under ``prefix``."""
    ranges = []
    for index, segment in enumerate(cover(first, last)):
        low, high = f"{prefix}{index}_first", f"{prefix}{index}_last"
        params[low], params[high] = segment.first, segment.last
        ranges.append((segment.grain, f"{{{low}:Date}}", f"{{{high}:Date}}"))
    return grain_condition(ranges)


def daily_condition(first: date, last: date, params: dict[str, Any], prefix: str = "d") -> str:
    """SQL true for the daily rows of ``[first, last]`` (figures counted in days: active days)."""
    params[f"{prefix}_first"], params[f"{prefix}_last"] = first, last
    return (
        f"(grain = '{Grain.DAY.value}' AND bucket BETWEEN {{{prefix}_first:Date}} AND {{{prefix}_last:Date}})"
    )
