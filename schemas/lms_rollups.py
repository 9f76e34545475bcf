"""The learning platform's feeds and rollups (ADR 0015), declared with :mod:`schemas.rollup_model`.

Rollups are keyed by the ids an event carries (user, course, video, assessment), never by entity
attributes: institutes, teachers, published state, max scores and signup times are joined at read time from
the current-state tables (``lms_courses``, ``lms_users``, ``lms_enrollments``, ``lms_institutes``), so an
event that arrives before its entity is counted at once and joined once the entity arrives.

Every rollup holding a person's contribution has ``user_id`` (the subject key ``student:17``) as a dimension:
erasure deletes exactly that person's rows, and unique counts over a period (active students, viewers,
active users) are ``uniqExact(user_id)`` over the period's rows: exact across grains, never a sum of daily
uniques. Durations are stored in whole seconds, percentages and scores in hundredths (``*_centi``), so sums
are exact; minutes are computed once when read.

Feed columns, as :mod:`schemas.lms_rows` fills them (one feed row per event):

- ``feed_lms_activity`` — every activity event; ``course_id`` 0 when the event has none. The ``*_or_null``
  and ``submitted_*`` columns are NULL unless the event carries that id (so ``uniq_exact`` skips it):
  ``course_or_null`` (any course-scoped event), ``video_or_null`` (``video_watched``), ``submitted_quiz`` and
  ``submitted_assignment`` (the assessment id of an ``assessment_submitted``/``assessment_graded`` snapshot).
  ``is_view``: ``content_viewed`` or ``video_watched``; ``quiz_started``: an ``assessment_started`` of a
  quiz; ``session_seconds``: a ``logout``'s ``duration_seconds``; ``watch_seconds``: a ``video_watched``'s
  ``watch_duration``; ``hour_of_week``: local wall clock, Monday 00:00–00:59 = 0 … Sunday 23:00 = 167.
- ``feed_lms_video`` — ``video_watched`` events only; ``watch_duration`` in seconds; ``completion_centi`` =
  completion percentage × 100; ``completed`` = 1 at ≥ :data:`VIDEO_COMPLETED_PERCENT`; absent labels are
  ``''``, absent counts 0.
- ``feed_lms_attempts`` — attempt snapshots, bucketed by the attempt's ``started_at`` day (every snapshot
  of an attempt lands on the same row); ``state`` is the type without ``assessment_``; ``snapshot_version``
  = timestamp in ms × 4 + stage (started 0, submitted 1, graded 2), so the newest snapshot wins and a
  grading wins over a submission of the same millisecond.
- ``feed_lms_enrollments`` — enrollment upserts (stream ``lms_entities``), bucketed by the version's
  ``timestamp``; ``progress_centi`` = progress percentage × 100.
- ``feed_lms_telemetry`` — telemetry samples; a column a sample's type lacks is 0 / an empty map.
  ``observed_seconds`` = ``interval_seconds`` of uptime samples (the denominator of uptime), else 0;
  ``latency_us_sum`` = ``latency_ms_sum`` × 1000, rounded.
"""

from __future__ import annotations

from schemas.rollup_model import _BUCKETS, Feed, Grain, Measure, Rollup, _cols
from schemas.topics import Stream

VIDEO_COMPLETED_PERCENT = 90
"""A watch session at or above this completion percentage counts as a completed view."""

LMS_ACTIVITY_FEED = Feed(
    "feed_lms_activity",
    Stream.LMS_ACTIVITY,
    _cols(
        _BUCKETS
        + """
user_type LowCardinality(String)
type LowCardinality(String)
course_id UInt64
course_or_null Nullable(UInt64)
video_or_null Nullable(UInt64)
submitted_quiz Nullable(UInt64)
submitted_assignment Nullable(UInt64)
is_view UInt8
quiz_started UInt8
watch_seconds UInt64
session_seconds UInt64
hour_of_week UInt8
"""
    ),
)

LMS_VIDEO_FEED = Feed(
    "feed_lms_video",
    Stream.LMS_ACTIVITY,
    _cols(
        _BUCKETS
        + """
course_id UInt64
video_id UInt64
device_type LowCardinality(String)
playback_quality LowCardinality(String)
watch_duration UInt64
completion_centi UInt64
completed UInt8
buffer_events UInt64
seek_events UInt64
"""
    ),
)

LMS_ATTEMPTS_FEED = Feed(
    "feed_lms_attempts",
    Stream.LMS_ACTIVITY,
    _cols(
        _BUCKETS
        + """
course_id UInt64
assessment_type LowCardinality(String)
assessment_id UInt64
attempt_id UInt64
state LowCardinality(String)
score_centi Nullable(UInt64)
max_score_centi UInt64
passed Nullable(UInt8)
time_taken_seconds Nullable(UInt32)
snapshot_version UInt64
"""
    ),
)

LMS_ENROLLMENTS_FEED = Feed(
    "feed_lms_enrollments",
    Stream.LMS_ENTITIES,
    _cols(
        _BUCKETS
        + """
course_id UInt64
status LowCardinality(String)
progress_centi UInt32
is_deleted UInt8
version UInt64
"""
    ),
)

LMS_TELEMETRY_FEED = Feed(
    "feed_lms_telemetry",
    Stream.LMS_TELEMETRY,
    _cols(
        _BUCKETS
        + """
source String
type LowCardinality(String)
requests UInt64
errors UInt64
bytes_served UInt64
latency_us_sum UInt64
latency_ms_histogram Map(String, UInt64)
requests_by_country Map(String, UInt64)
requests_by_region Map(String, UInt64)
observed_seconds UInt64
up_seconds UInt64
storage_used_bytes UInt64
sampled_at DateTime64(3, 'UTC')
"""
    ),
)

LMS_FEEDS = (LMS_ACTIVITY_FEED, LMS_VIDEO_FEED, LMS_ATTEMPTS_FEED, LMS_ENROLLMENTS_FEED, LMS_TELEMETRY_FEED)

_DAY = (Grain.DAY,)

LMS_ROLLUPS: tuple[Rollup, ...] = (
    Rollup(
        "lms_course_activity",
        LMS_ACTIVITY_FEED,
        ("tenant_id", "user_id", "user_type", "course_id"),
        (
            Measure("events", "count"),
            Measure("views", "count", condition="is_view = 1"),
            Measure("video_views", "count", condition="type = 'video_watched'"),
            Measure("watch_seconds", "sum", "watch_seconds"),
            Measure("completions", "count", condition="type = 'course_completed'"),
            Measure("quiz_attempts", "count", condition="quiz_started = 1"),
            Measure(
                "quiz_submissions",
                "count",
                condition="type = 'assessment_submitted' AND submitted_quiz IS NOT NULL",
            ),
            Measure(
                "assignment_submissions",
                "count",
                condition="type = 'assessment_submitted' AND submitted_assignment IS NOT NULL",
            ),
        ),
        where="course_id > 0",
        description="course-scoped activity per person and course: events, views, watch seconds, "
        "completions, quiz attempts, submissions (active students and unique viewers: distinct user_id)",
    ),
    Rollup(
        "lms_user_days",
        LMS_ACTIVITY_FEED,
        ("tenant_id", "user_id", "user_type"),
        (
            Measure("events", "count"),
            Measure("logins", "count", condition="type = 'login'"),
            Measure("sessions_ended", "count", condition="type = 'logout'"),
            Measure("session_seconds", "sum", "session_seconds"),
            Measure("courses_accessed", "uniq_exact", "course_or_null"),
            Measure("videos_watched", "uniq_exact", "video_or_null"),
            Measure("video_views", "count", condition="type = 'video_watched'"),
            Measure("quizzes_attempted", "count", condition="quiz_started = 1"),
            Measure("quizzes_completed", "uniq_exact", "submitted_quiz"),
            Measure("assignments_submitted", "uniq_exact", "submitted_assignment"),
            Measure("courses_completed", "count", condition="type = 'course_completed'"),
            Measure("events_by_hour", "count_by", "hour_of_week"),
        ),
        description="a person's activity per day/week/month (a daily row exists iff they did something: "
        "active days for engagement, cohorts and retention), with events by hour of the week (heatmaps)",
    ),
    Rollup(
        "lms_video_views",
        LMS_VIDEO_FEED,
        ("tenant_id", "user_id", "course_id", "video_id", "device_type", "playback_quality"),
        (
            Measure("watch_sessions", "count"),
            Measure("watch_seconds", "sum", "watch_duration"),
            Measure("completion_centi", "sum", "completion_centi"),
            Measure("completed_sessions", "sum", "completed"),
            Measure("buffer_events", "sum", "buffer_events"),
            Measure("seek_events", "sum", "seek_events"),
            Measure("q_watch_seconds", "quantiles", "watch_duration"),
        ),
        description="video watch sessions per viewer, course, video, device and quality",
    ),
    Rollup(
        "lms_attempts",
        LMS_ATTEMPTS_FEED,
        ("tenant_id", "user_id", "course_id", "assessment_type", "assessment_id", "attempt_id"),
        (
            Measure("state", "value", "state", additive=False),
            Measure("score_centi", "value", "score_centi"),
            Measure("max_score_centi", "value", "max_score_centi"),
            Measure("passed", "value", "passed"),
            Measure("time_taken_seconds", "value", "time_taken_seconds"),
        ),
        grains=_DAY,
        replacing_version="snapshot_version",
        description="one row per assessment attempt (newest snapshot wins) on the day it started: the score "
        "distribution of every assessment (averages, pass rates, difficulty at read)",
    ),
    Rollup(
        "lms_enrollment_progress",
        LMS_ENROLLMENTS_FEED,
        ("tenant_id", "user_id", "course_id"),
        (
            Measure("status", "value", "status", additive=False),
            Measure("progress_centi", "value", "progress_centi"),
            Measure("is_deleted", "value", "is_deleted"),
        ),
        grains=_DAY,
        replacing_version="version",
        description="an enrollment's newest state per day its versions were recorded: progress and status "
        "as of any past day (the newest version among the rows up to that day)",
    ),
    Rollup(
        "lms_platform_traffic",
        LMS_TELEMETRY_FEED,
        ("tenant_id", "source"),
        (
            Measure("samples", "count"),
            Measure("requests", "sum", "requests"),
            Measure("errors", "sum", "errors"),
            Measure("bytes_served", "sum", "bytes_served"),
            Measure("latency_us_sum", "sum", "latency_us_sum"),
            Measure("latency_ms_histogram", "sum_map", "latency_ms_histogram"),
            Measure("requests_by_country", "sum_map", "requests_by_country"),
            Measure("requests_by_region", "sum_map", "requests_by_region"),
            Measure("observed_seconds", "sum", "observed_seconds"),
            Measure("up_seconds", "sum", "up_seconds"),
        ),
        personal=False,
        description="platform traffic and uptime per reporting source (no person in it)",
    ),
    Rollup(
        "lms_platform_storage",
        LMS_TELEMETRY_FEED,
        ("tenant_id", "source"),
        (Measure("storage_used_bytes", "latest", "storage_used_bytes", by="sampled_at"),),
        where="type = 'storage'",
        personal=False,
        description="storage used per source: its newest sample in each bucket (a level, not a flow)",
    ),
)
