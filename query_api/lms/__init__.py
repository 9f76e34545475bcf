"""Readers of the learning platform's eight aggregation models (ADR 0015 §5, ``docs/metrics.md``): each
computes its seed model for a tenant, the requested ids and a period of local days from the LMS rollups
(``schemas/lms_rollups.py``) and the current-state tables, with the formulas of
:mod:`schemas.lms_measures`. Every reader takes the query store and answers for many ids in a few
statements."""

from query_api.lms.assessments import assessment_analytics
from query_api.lms.cohorts import (
    Cohort,
    CohortAnalysis,
    RetentionAnalysis,
    RetentionPoint,
    RetentionSegment,
    enrollment_cohorts,
    retention,
    signup_cohorts,
)
from query_api.lms.courses import course_analytics, daily_course_metrics, weekly_course_metrics
from query_api.lms.heatmap import ActivityHeatmap, HeatmapCell, activity_heatmap
from query_api.lms.models import (
    AssessmentAnalytics,
    CourseAnalytics,
    DailyCourseMetrics,
    LmsPeriod,
    MonthlyUserMetrics,
    Person,
    SystemMetrics,
    UserAnalytics,
    VideoWatchAnalytics,
    WeeklyCourseMetrics,
)
from query_api.lms.progress import CourseProgress, UserProgressAnalytics, course_students, user_progress
from query_api.lms.system import system_metrics
from query_api.lms.traffic import TrafficAnalytics, traffic_analytics
from query_api.lms.users import monthly_user_metrics, user_analytics
from query_api.lms.videos import VideoAnalytics, video_analytics, video_sessions, video_watch_analytics

__all__ = [
    "Cohort",
    "CohortAnalysis",
    "RetentionAnalysis",
    "RetentionPoint",
    "RetentionSegment",
    "enrollment_cohorts",
    "retention",
    "signup_cohorts",
    "ActivityHeatmap",
    "HeatmapCell",
    "activity_heatmap",
    "AssessmentAnalytics",
    "CourseProgress",
    "CourseAnalytics",
    "DailyCourseMetrics",
    "LmsPeriod",
    "MonthlyUserMetrics",
    "Person",
    "SystemMetrics",
    "TrafficAnalytics",
    "UserAnalytics",
    "UserProgressAnalytics",
    "VideoWatchAnalytics",
    "WeeklyCourseMetrics",
    "assessment_analytics",
    "course_analytics",
    "course_students",
    "daily_course_metrics",
    "monthly_user_metrics",
    "system_metrics",
    "traffic_analytics",
    "user_analytics",
    "user_progress",
    "VideoAnalytics",
    "video_analytics",
    "video_sessions",
    "video_watch_analytics",
    "weekly_course_metrics",
]
