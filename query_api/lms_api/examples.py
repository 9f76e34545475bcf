"""Example answers of the LMS reads for the OpenAPI document: one instance of each seed model, with the
figures of a plausible course (the routes' ``responses=`` render them in the success envelope)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from query_api.lms.models import (
    AssessmentAnalytics,
    CourseAnalytics,
    DailyCourseMetrics,
    MonthlyUserMetrics,
    SystemMetrics,
    UserAnalytics,
    VideoWatchAnalytics,
    WeeklyCourseMetrics,
)
from query_api.lms.progress import CourseProgress, UserProgressAnalytics

TENANT = "acme-university"

COURSE = CourseAnalytics(
    course_id=12,
    tenant_id=TENANT,
    period_start=date(2026, 2, 1),
    period_end=date(2026, 2, 28),
    total_enrollments=184,
    active_students=131,
    completion_rate=Decimal("23.91"),
    average_progress=Decimal("61.40"),
    total_watch_time=10_482,
    quiz_completion_rate=Decimal("72.83"),
    assignment_submission_rate=Decimal("64.13"),
    engagement_score=Decimal("38.75"),
)
DAILY = DailyCourseMetrics(
    course_id=12,
    date=date(2026, 2, 16),
    total_views=412,
    unique_viewers=97,
    total_watch_time=1_265,
    completion_count=3,
    quiz_attempts=41,
    assignment_submissions=18,
    average_engagement=Decimal("52.72"),
    tenant_id=TENANT,
)
WEEKLY = WeeklyCourseMetrics(
    course_id=12,
    week_start_date=date(2026, 2, 16),
    week_end_date=date(2026, 2, 22),
    total_enrollments=184,
    new_enrollments=6,
    completed_enrollments=4,
    total_watch_time=4_310,
    average_progress=Decimal("58.10"),
    engagement_score=Decimal("41.30"),
    tenant_id=TENANT,
)
USER = UserAnalytics(
    user_id=1017,
    user_type="student",
    tenant_id=TENANT,
    period_start=date(2026, 2, 16),
    period_end=date(2026, 2, 22),
    login_count=9,
    session_duration_avg=34,
    courses_accessed=3,
    videos_watched=11,
    quizzes_attempted=4,
    assignments_submitted=2,
    engagement_score=Decimal("71.43"),
)
MONTHLY_USER = MonthlyUserMetrics(
    user_id=1017,
    user_type="student",
    month=2,
    year=2026,
    total_login_time=1_140,
    courses_completed=1,
    videos_watched=38,
    quizzes_completed=7,
    assignments_submitted=4,
    engagement_score=Decimal("64.29"),
    tenant_id=TENANT,
)
ASSESSMENT = AssessmentAnalytics(
    assessment_id=3001,
    assessment_type="quiz",
    course_id=12,
    total_attempts=212,
    completed_attempts=196,
    average_score=Decimal("74.35"),
    pass_rate=Decimal("81.63"),
    average_time_taken=14,
    difficulty_score=Decimal("25.65"),
    period_start=date(2026, 2, 1),
    period_end=date(2026, 2, 28),
    tenant_id=TENANT,
)
SYSTEM = SystemMetrics(
    tenant_id=TENANT,
    period_start=date(2026, 2, 1),
    period_end=date(2026, 2, 28),
    total_users=2_406,
    active_users=1_712,
    total_courses=64,
    active_courses=51,
    total_sessions=48_930,
    average_session_duration=27,
    total_video_views=96_210,
    total_storage_used=1_893_427_200_000,
    bandwidth_used=14_520_331_776_000,
    system_uptime=Decimal("99.97"),
    error_rate=Decimal("0.42"),
)
VIDEO_SESSION = VideoWatchAnalytics(
    video_id=501,
    student_id=1017,
    session_id="s-7f3a9c",
    watch_duration=1_320,
    completion_percentage=Decimal("91.50"),
    start_time=datetime(2026, 2, 16, 18, 4, 12, tzinfo=UTC),
    end_time=datetime(2026, 2, 16, 18, 27, 40, tzinfo=UTC),
    device_type="desktop",
    playback_quality="1080p",
    buffer_events=2,
    seek_events=5,
    tenant_id=TENANT,
)
PROGRESS = UserProgressAnalytics(
    student_id=1017,
    tenant_id=TENANT,
    enrolled_courses=2,
    active_courses=1,
    completed_courses=1,
    dropped_courses=0,
    average_progress=COURSE.average_progress,
    courses=[
        CourseProgress(
            course_id=12,
            status="active",
            progress_percentage=WEEKLY.average_progress,
            enrolled_at=VIDEO_SESSION.start_time,
            completed_at=None,
            dropped_at=None,
        )
    ],
)
