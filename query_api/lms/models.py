"""The learning platform's eight aggregation models, named and shaped after the seed's tables
(``../shared/seeds/003_*``): one object per (entity, period), computed at read time from the LMS rollups and
current-state tables by the readers of :mod:`query_api.lms`.

The seed's surrogate ids (``analytics_id``, ``metrics_id``) and audit columns are not figures and are left
to the query API that serves these. ``tenant_id`` is our string tenant (the seed's is an integer);
``period_start``/``period_end`` are the requested local dates, both inclusive, in the tenant's time zone.
Units as in :mod:`schemas.lms_measures`: percentages ``Decimal`` with two decimals, durations in whole
minutes except ``VideoWatchAnalytics.watch_duration`` (seconds), storage and bandwidth in bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import PlainSerializer

Percent = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
"""A two-decimal figure (percentages, scores): exact in Python, a JSON number in answers (as the LMS API
renders it), so the documented schema says ``number``."""


@dataclass(frozen=True, slots=True)
class LmsPeriod:
    """Whose and which days: one tenant, its zone, the local days ``[first, last]``."""

    tenant_id: str
    zone: ZoneInfo
    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"the period ends ({self.last}) before it starts ({self.first})")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        """The first instant of ``first`` in the tenant's zone, in UTC."""
        return datetime.combine(self.first, time(), self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The first instant after ``last`` (exclusive end), in UTC: "by the end of the period" means before
        this. A zone whose midnight is skipped by a DST change starts the day at the change."""
        return datetime.combine(self.last + timedelta(days=1), time(), self.zone).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One figure over one point of a series (the point's local days, both inclusive)."""

    period_start: date
    period_end: date
    value: Percent | int | None


@dataclass(frozen=True, slots=True)
class Person:
    """A person of the LMS: the seed keys users by ``(user_id, user_type)``."""

    user_type: str
    user_id: int

    @property
    def key(self) -> str:
        """The subject key rollups and raw tables carry (``student:17``)."""
        return f"{self.user_type}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class CourseAnalytics:
    course_id: int
    tenant_id: str
    period_start: date
    period_end: date
    total_enrollments: int
    active_students: int
    completion_rate: Percent
    average_progress: Percent
    total_watch_time: int
    """minutes"""
    quiz_completion_rate: Percent
    assignment_submission_rate: Percent
    engagement_score: Percent


@dataclass(frozen=True, slots=True)
class UserAnalytics:
    user_id: int
    user_type: str
    tenant_id: str
    period_start: date
    period_end: date
    login_count: int
    session_duration_avg: int
    """minutes"""
    courses_accessed: int
    videos_watched: int
    quizzes_attempted: int
    assignments_submitted: int
    engagement_score: Percent


@dataclass(frozen=True, slots=True)
class SystemMetrics:
    tenant_id: str
    period_start: date
    period_end: date
    total_users: int
    active_users: int
    total_courses: int
    active_courses: int
    total_sessions: int
    average_session_duration: int
    """minutes"""
    total_video_views: int
    total_storage_used: int
    """bytes"""
    bandwidth_used: int
    """bytes"""
    system_uptime: Percent | None
    """``None`` without an uptime sample in the period"""
    error_rate: Percent


Day = date
"""``date`` under another name, for the field named ``date`` (its annotation would name the field itself)."""


@dataclass(frozen=True, slots=True)
class DailyCourseMetrics:
    course_id: int
    date: Day
    total_views: int
    unique_viewers: int
    total_watch_time: int
    """minutes"""
    completion_count: int
    quiz_attempts: int
    assignment_submissions: int
    average_engagement: Percent
    tenant_id: str


@dataclass(frozen=True, slots=True)
class WeeklyCourseMetrics:
    course_id: int
    week_start_date: date
    week_end_date: date
    total_enrollments: int
    new_enrollments: int
    completed_enrollments: int
    total_watch_time: int
    """minutes"""
    average_progress: Percent
    engagement_score: Percent
    tenant_id: str


@dataclass(frozen=True, slots=True)
class MonthlyUserMetrics:
    user_id: int
    user_type: str
    month: int
    year: int
    total_login_time: int
    """minutes"""
    courses_completed: int
    videos_watched: int
    quizzes_completed: int
    assignments_submitted: int
    engagement_score: Percent
    tenant_id: str


@dataclass(frozen=True, slots=True)
class AssessmentAnalytics:
    assessment_id: int
    assessment_type: str
    course_id: int
    total_attempts: int
    completed_attempts: int
    average_score: Percent
    pass_rate: Percent
    average_time_taken: int
    """minutes"""
    difficulty_score: Percent
    period_start: date
    period_end: date
    tenant_id: str


@dataclass(frozen=True, slots=True)
class VideoWatchAnalytics:
    video_id: int
    student_id: int
    session_id: str
    watch_duration: int
    """seconds"""
    completion_percentage: Percent
    start_time: datetime
    end_time: datetime | None
    device_type: str | None
    playback_quality: str | None
    buffer_events: int | None
    seek_events: int | None
    tenant_id: str
