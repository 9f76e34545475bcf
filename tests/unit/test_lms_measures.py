"""The learning platform's derived measures (``schemas/lms_measures.py``) round as ``docs/metrics.md``
says — half up, once, from exact integers — and the LMS readers' grain cover reads every day of a period
exactly once, from the coarsest rows that fit."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from query_api.lms.grains import cover
from query_api.periods import Segment
from schemas import lms_measures as m
from schemas.rollups import Grain


def test_percentages_round_half_up_from_the_exact_fraction() -> None:
    assert m.percent(1, 8) == Decimal("12.50")
    assert m.percent(1, 3) == Decimal("33.33")
    assert m.percent(2, 3) == Decimal("66.67")
    assert m.percent(1, 20_000) == Decimal("0.01")  # 0.005 %: a tie, up
    assert m.percent(1, 20_001) == Decimal("0.00")
    assert m.percent(0, 0) == Decimal("0.00") and str(m.percent(0, 0)) == "0.00"
    assert str(m.percent(7, 7)) == "100.00"


def test_minutes_round_the_period_total_half_up() -> None:
    assert [m.minutes(s) for s in (0, 29, 30, 89, 90, 3600)] == [0, 0, 1, 1, 2, 60]
    assert m.average_minutes(90, 1) == 2
    assert m.average_minutes(89 + 91, 2) == 2  # mean 90 s
    assert m.average_minutes(0, 0) == 0
    with pytest.raises(ValueError):
        m.half_up(-1, 2)


def test_open_measures() -> None:
    assert m.average_progress([]) == Decimal("0.00")
    assert m.average_progress([1, 2]) == Decimal("0.02")  # 1.5 hundredths, half up
    assert m.average_progress([5000, 7525]) == Decimal("62.63")  # 62.625 %
    assert m.course_engagement(3, 2, 7) == Decimal("21.43")
    assert m.user_engagement(31, 31) == Decimal("100.00")
    assert m.submission_rate(5, 4, 3) == Decimal("41.67")
    assert m.submission_rate(0, 4, 0) == Decimal("0.00")
    average = m.average_score(1550, 2000)
    assert average == Decimal("77.50")
    assert m.difficulty_score(average, 2) == Decimal("22.50")
    assert m.difficulty_score(Decimal("0.00"), 0) == Decimal("0.00")
    assert m.pass_rate(2, 3) == Decimal("66.67")
    assert m.uptime(0, 0) is None
    assert m.uptime(3599, 3600) == Decimal("99.97")
    assert m.error_rate(3, 0) == Decimal("0.00")
    assert m.completion_rate(1, 6) == Decimal("16.67")


def _days(segments: list[Segment]) -> list[date]:
    days: list[date] = []
    for segment in segments:
        bucket = segment.first
        while bucket <= segment.last:
            if segment.grain is Grain.DAY:
                step = timedelta(days=1)
            elif segment.grain is Grain.WEEK:
                assert bucket.weekday() == 0
                step = timedelta(days=7)
            else:
                assert bucket.day == 1
                step = (bucket + timedelta(days=32)).replace(day=1) - bucket
            days.extend(bucket + timedelta(days=i) for i in range(step.days))
            bucket += step
    return days


def test_the_cover_reads_every_day_once_from_the_coarsest_rows() -> None:
    rng = random.Random(18)
    for _ in range(3000):
        first = date(2025, 9, 1) + timedelta(days=rng.randint(0, 400))
        last = first + timedelta(days=rng.randint(0, 200))
        assert _days(cover(first, last)) == [
            first + timedelta(days=i) for i in range((last - first).days + 1)
        ]
    assert [(s.grain, s.first) for s in cover(date(2025, 12, 1), date(2025, 12, 31))] == [
        (Grain.MONTH, date(2025, 12, 1))
    ]
    assert [(s.grain, s.first) for s in cover(date(2025, 12, 29), date(2026, 1, 4))] == [
        (Grain.WEEK, date(2025, 12, 29))
    ]
    assert [(s.grain, s.first, s.last) for s in cover(date(2025, 12, 20), date(2026, 2, 10))] == [
        (Grain.DAY, date(2025, 12, 20), date(2025, 12, 21)),
        (Grain.WEEK, date(2025, 12, 22), date(2025, 12, 22)),
        (Grain.DAY, date(2025, 12, 29), date(2025, 12, 31)),  # that week's Thursday on is January's
        (Grain.MONTH, date(2026, 1, 1), date(2026, 1, 1)),
        (Grain.DAY, date(2026, 2, 1), date(2026, 2, 1)),
        (Grain.WEEK, date(2026, 2, 2), date(2026, 2, 2)),
        (Grain.DAY, date(2026, 2, 9), date(2026, 2, 10)),
    ]
    with pytest.raises(ValueError):
        cover(date(2026, 1, 2), date(2026, 1, 1))
