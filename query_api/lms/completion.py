"""``CourseCompletionAnalytics`` (the seed names the type only): a course's enrollments and completions over a
period, how far its learners are, and the same per point of a series, from the course facts of
:mod:`query_api.lms.courses` (enrollments from the current state compared with each point's instants,
progress as of each point's end). Formulas: :mod:`schemas.lms_measures`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from query_api.lms.courses import Part, course_facts_by_period
from query_api.lms.models import LmsPeriod, Percent
from query_api.store import QueryStore
from schemas import lms_measures as measures


@dataclass(frozen=True, slots=True)
class ProgressBand:
    """Learners (enrolled, not dropped by the period's end) whose progress as of the end is in
    ``[from_percent, to_percent)`` (the last band is exactly 100)."""

    from_percent: int
    to_percent: int
    enrollments: int


@dataclass(frozen=True, slots=True)
class CompletionPoint:
    period_start: date
    period_end: date
    new_enrollments: int
    completions: int
    """enrollments completed within the point"""
    completion_rate: Percent
    """as of the point's end (``CourseAnalytics.completion_rate``)"""


@dataclass(frozen=True, slots=True)
class CourseCompletionAnalytics:
    course_id: int
    tenant_id: str
    period_start: date
    period_end: date
    total_enrollments: int
    """made by the period's end, any status"""
    new_enrollments: int
    """made within the period"""
    completed_enrollments: int
    """completed by the period's end"""
    completed_in_period: int
    dropped_enrollments: int
    """dropped by the period's end"""
    completion_rate: Percent
    average_progress: Percent
    average_days_to_complete: Percent
    """of the enrollments completed in the period: days from enrolling to completing, mean"""
    progress_distribution: list[ProgressBand]
    group_by: str
    trend: list[CompletionPoint]


async def course_completion(
    store: QueryStore, period: LmsPeriod, course_id: int, group_by: str, points: Sequence[LmsPeriod]
) -> CourseCompletionAnalytics:
    """The course over ``period`` and per point of ``points`` (the ``group_by`` buckets of the period)."""
    whole, *parts = await course_facts_by_period(store, [period, *points], [course_id], {Part.PROGRESS})
    item = whole[course_id]
    bands = [0] * len(measures.PROGRESS_BANDS)
    for student in item.students:
        bands[measures.progress_band(item.progress_centi.get(student, 0))] += 1
    return CourseCompletionAnalytics(
        course_id=course_id,
        tenant_id=period.tenant_id,
        period_start=period.first,
        period_end=period.last,
        total_enrollments=item.enrollments,
        new_enrollments=item.new_enrollments,
        completed_enrollments=item.completed_by_end,
        completed_in_period=item.completed_in_period,
        dropped_enrollments=item.dropped_by_end,
        completion_rate=measures.completion_rate(item.completed_by_end, item.enrollments),
        average_progress=item.average_progress,
        average_days_to_complete=measures.average_days(item.completion_ms, item.completed_in_period),
        progress_distribution=[
            ProgressBand(low // 100, min(high // 100, 100), count)
            for (low, high), count in zip(measures.PROGRESS_BANDS, bands, strict=True)
        ],
        group_by=group_by,
        trend=[
            CompletionPoint(
                point.first,
                point.last,
                part[course_id].new_enrollments,
                part[course_id].completed_in_period,
                measures.completion_rate(part[course_id].completed_by_end, part[course_id].enrollments),
            )
            for point, part in zip(points, parts, strict=True)
        ],
    )
