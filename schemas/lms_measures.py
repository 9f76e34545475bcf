"""Every derived measure of the learning platform's eight aggregation models that the seed leaves open,
defined once (ADR 0015 §5; ``docs/metrics.md`` states each with its source). Pure functions of whole
numbers: the readers (:mod:`query_api.lms`) fetch exact sums and counts from the rollups and the
current-state tables and call only these, so a figure is the same wherever it is shown.

Units and rounding, the same for every model:

- **Percentages** are ``Decimal`` 0–100 with two decimals (the seed's ``Decimal(5,2)``), rounded half up
  from the exact fraction (:func:`percent`); a percentage over an empty denominator is 0.00 (the seed's
  columns are not nullable), except uptime, which is ``None`` without samples (nothing says the platform was
  up or down).
- **Minutes** (every ``total_watch_time``, ``session_duration_avg``, ``average_session_duration``,
  ``total_login_time``, ``average_time_taken``): the period's total in **seconds**, divided and rounded half
  up once (:func:`minutes`, :func:`average_minutes`). Rollups keep seconds, so seven daily minutes need not
  add up to the week's.
- **Seconds**: only ``VideoWatchAnalytics.watch_duration`` (as the client sent it). **Bytes**:
  ``total_storage_used``, ``bandwidth_used``.
- Stored percentages and scores are hundredths (``*_centi``), so their sums are exact integers.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

SECONDS_PER_MINUTE = 60

STUDENT = "student"
"""The ``user_type`` of students: only they count as active students and as a course's enrolled learners."""

SUBMITTED_STATES = ("submitted", "graded")
"""Newest states of an attempt that count as handed in (an attempt's ``state`` in ``rollup_lms_attempts``)."""

ACTIVE_STUDENT_SQL = f"user_type = '{STUDENT}'"
"""Over a period's ``rollup_lms_course_activity`` rows (a row exists only for at least one course-scoped
event): the rows of active students. An *active student* of a course in a period is a student with at
least one event carrying that course id (a view, progress, video, attempt, completion or other course
activity) whose day is in the period; counted ``uniqExactIf(user_id, …)``, exact over any mix of grains."""

VIEWER_SQL = "views > 0"
"""Over ``rollup_lms_course_activity`` rows: the rows of people who viewed (``content_viewed`` or
``video_watched``) — any user type — for ``unique_viewers``."""


def half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half up to a whole number (both non-negative, denominator > 0).
    Integer arithmetic only: no binary float ever decides a tie."""
    if numerator < 0 or denominator <= 0:
        raise ValueError(f"half_up needs numerator ≥ 0 and denominator > 0, got {numerator}/{denominator}")
    return (2 * numerator + denominator) // (2 * denominator)


def hundredths(value: int) -> Decimal:
    """A whole number of hundredths as a two-decimal ``Decimal`` (1250 → 12.50)."""
    return Decimal(value).scaleb(-2)


ZERO_PERCENT = hundredths(0)


def percent(part: int, whole: int) -> Decimal:
    """``100 × part / whole`` with two decimals, half up; 0.00 when ``whole`` is 0. The one rounding of every
    percentage field."""
    if whole == 0:
        return ZERO_PERCENT
    return hundredths(half_up(part * 10_000, whole))


def minutes(seconds: int) -> int:
    """A period's total seconds in whole minutes, half up (89 s → 1, 90 s → 2): ``total_watch_time``,
    ``total_login_time``."""
    return half_up(seconds, SECONDS_PER_MINUTE)


def average_minutes(total_seconds: int, count: int) -> int:
    """Mean seconds per item in whole minutes, half up of the exact mean; 0 without items:
    ``session_duration_avg`` / ``average_session_duration`` (Σ session seconds of sessions that ended in the
    period ÷ those sessions), ``average_time_taken`` (Σ time taken ÷ submitted attempts that report it)."""
    if count == 0:
        return 0
    return half_up(total_seconds, SECONDS_PER_MINUTE * count)


def mean_percent_centi(total_centi: int, count: int) -> Decimal:
    """The mean of ``count`` percentages given as a total of hundredths, two decimals half up; 0.00 without
    items: ``VideoAnalytics.average_completion`` (Σ ``completion_percentage`` of the sessions ÷ sessions)."""
    if count == 0:
        return ZERO_PERCENT
    return hundredths(half_up(total_centi, count))


def completion_rate(completed: int, enrollments: int) -> Decimal:
    """``CourseAnalytics.completion_rate``: enrollments completed by the period's end (``completed_at`` on or
    before it) per enrollment made by then (``enrolled_at`` on or before it, any status), in percent."""
    return percent(completed, enrollments)


def average_progress(progress_centi: Iterable[int]) -> Decimal:
    """``average_progress``: the mean progress percentage, as of the period's end, of the enrollments made
    and not dropped by then (each enrollment's newest version recorded by the end of the period; one
    recorded later counts 0). Arguments are hundredths of a percent; 0.00 without enrollments."""
    values = list(progress_centi)
    if not values:
        return ZERO_PERCENT
    return hundredths(half_up(sum(values), len(values)))


def course_engagement(active_student_days: int, students: int, days: int) -> Decimal:
    """``CourseAnalytics.engagement_score`` (and ``WeeklyCourseMetrics.engagement_score``,
    ``DailyCourseMetrics.average_engagement`` over one day): the share of possible learner-days that were
    active — Σ over the course's enrolled, not dropped students (as of the period's end) of their days in
    the period with at least one event of the course ÷ (those students × days in the period), in percent.
    0–100 by construction; 0.00 without students."""
    return percent(active_student_days, students * days)


def user_engagement(active_days: int, days: int) -> Decimal:
    """``UserAnalytics.engagement_score`` and ``MonthlyUserMetrics.engagement_score``: days of the period on
    which the person did anything (any activity event) ÷ days in the period, in percent."""
    return percent(active_days, days)


def submission_rate(submitted_pairs: int, students: int, assessments: int) -> Decimal:
    """``quiz_completion_rate`` and ``assignment_submission_rate`` of a course: distinct (student,
    assessment) pairs with an attempt started by the period's end whose newest snapshot is submitted or
    graded ÷ (enrolled, not dropped students × the course's current quizzes — or assignments), in percent;
    only the course's own assessments and students count, so it never exceeds 100. 0.00 when the course has
    no such assessments or students."""
    return percent(submitted_pairs, students * assessments)


def average_score(score_centi: int, max_score_centi: int) -> Decimal:
    """``AssessmentAnalytics.average_score``: points scored ÷ points possible over the attempts that have a
    score, in percent (a percentage, not points; attempts weighted by their maximum). 0.00 without one."""
    return percent(score_centi, max_score_centi)


def pass_rate(passed: int, judged: int) -> Decimal:
    """``AssessmentAnalytics.pass_rate``: attempts passed ÷ attempts whose ``passed`` is known, in percent."""
    return percent(passed, judged)


def difficulty_score(average: Decimal, scored_attempts: int) -> Decimal:
    """``AssessmentAnalytics.difficulty_score``: ``100 − average_score`` (the share of points missed), so 0
    is trivial and 100 impossible; 0.00 when no attempt has a score (difficulty unknown)."""
    if scored_attempts == 0:
        return ZERO_PERCENT
    return hundredths(10_000) - average


def uptime(up_seconds: int, observed_seconds: int) -> Decimal | None:
    """``SystemMetrics.system_uptime``: Σ ``up_seconds`` ÷ Σ ``interval_seconds`` of the uptime samples of
    every source in the period, in percent; ``None`` without a sample."""
    if observed_seconds == 0:
        return None
    return percent(up_seconds, observed_seconds)


def error_rate(errors: int, requests: int) -> Decimal:
    """``SystemMetrics.error_rate``: 5xx responses ÷ requests over the traffic samples of the period, in
    percent; 0.00 without requests."""
    return percent(errors, requests)


def average_latency_ms(latency_us_sum: int, requests: int) -> Decimal:
    """``TrafficAnalytics.average_latency_ms``: Σ request latency (µs, as the traffic rollup keeps it) ÷
    requests, in milliseconds with two decimals, half up; 0.00 without requests."""
    if requests == 0:
        return ZERO_PERCENT
    return hundredths(half_up(latency_us_sum, requests * 10))


MS_PER_DAY = 86_400_000


def average_days(total_ms: int, count: int) -> Decimal:
    """``CourseCompletionAnalytics.average_days_to_complete``: Σ (``completed_at`` − ``enrolled_at``) of the
    enrollments completed in the period ÷ those enrollments, in days with two decimals, half up; 0.00
    without one."""
    if count == 0:
        return ZERO_PERCENT
    return hundredths(half_up(total_ms * 100, count * MS_PER_DAY))


PROGRESS_BANDS = ((0, 2_500), (2_500, 5_000), (5_000, 7_500), (7_500, 10_000), (10_000, 10_001))
"""Progress bands in hundredths of a percent, ``[low, high)``: 0–24.99, 25–49.99, 50–74.99, 75–99.99 and
exactly 100 (finished)."""


def progress_band(progress_centi: int) -> int:
    """The index in :data:`PROGRESS_BANDS` of a progress in hundredths (0–10000)."""
    return next(i for i, (low, high) in enumerate(PROGRESS_BANDS) if low <= progress_centi < high)
