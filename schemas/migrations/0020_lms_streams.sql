-- The learning platform's streams (ADR 0015, issue 18): raw tables, current-state tables of entities, and the
-- LMS feeds, rollup tables and views. Columns as schemas/lms_rows.py fills them.
--
-- Raw tables, one per stream, as the product's: every version/event/sample kept; ReplacingMergeTree collapses
-- a redelivered row with the same sorting key, insert deduplication tokens (non_replicated_deduplication_window)
-- drop a re-inserted batch outright; monthly partitions on the event's time. `user_id` is the subject key
-- (`student:17`, `course:5`, `source:web-1`), so erasure, export and retention treat them as the product's.
CREATE TABLE IF NOT EXISTS lms_entity_upserts
(
    tenant_id      LowCardinality(String),
    id             UUID,
    user_id        String,
    timestamp      DateTime64(3, 'UTC'),
    type           LowCardinality(String),
    course_id      UInt64,
    version        UInt64,
    is_deleted     UInt8,
    document       String CODEC(ZSTD(3)),
    sent_at        Nullable(DateTime64(3, 'UTC')),
    received_at    DateTime64(3, 'UTC'),
    time_clamped   Bool DEFAULT false,
    schema_version UInt8 DEFAULT 1
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (tenant_id, user_id, timestamp, id)
SETTINGS non_replicated_deduplication_window = 10000;

-- One wide table for every activity type: ids a type lacks are 0 (LMS ids are >= 1), other fields it lacks
-- or leaves out NULL. `video_watched` rows are the seed's VideoWatchAnalytics.
CREATE TABLE IF NOT EXISTS lms_activity
(
    tenant_id             LowCardinality(String),
    id                    UUID,
    user_id               String,
    timestamp             DateTime64(3, 'UTC'),
    type                  LowCardinality(String),
    user_type             LowCardinality(String),
    lms_user_id           UInt64,
    session_id            Nullable(String),
    course_id             UInt64,
    content_id            UInt64,
    content_type          LowCardinality(Nullable(String)),
    progress_percentage   Nullable(Decimal(5, 2)),
    started_at            Nullable(DateTime64(3, 'UTC')),
    duration_seconds      Nullable(UInt32),
    video_id              UInt64,
    watch_duration        Nullable(UInt32),
    completion_percentage Nullable(Decimal(5, 2)),
    start_time            Nullable(DateTime64(3, 'UTC')),
    end_time              Nullable(DateTime64(3, 'UTC')),
    playback_quality      LowCardinality(Nullable(String)),
    buffer_events         Nullable(UInt32),
    seek_events           Nullable(UInt32),
    assessment_id         UInt64,
    assessment_type       LowCardinality(Nullable(String)),
    attempt_id            UInt64,
    submitted_at          Nullable(DateTime64(3, 'UTC')),
    time_taken_seconds    Nullable(UInt32),
    score                 Nullable(Decimal(7, 2)),
    max_score             Nullable(Decimal(7, 2)),
    passed                Nullable(Bool),
    graded_by             UInt64,
    verb                  Nullable(String),
    object_id             Nullable(String) CODEC(ZSTD(3)),
    device_type           LowCardinality(Nullable(String)),
    properties            String CODEC(ZSTD(3)),
    user_agent            Nullable(String) CODEC(ZSTD(3)),
    ip_address            Nullable(String),
    browser               LowCardinality(Nullable(String)),
    browser_version       LowCardinality(Nullable(String)),
    os                    LowCardinality(Nullable(String)),
    os_version            LowCardinality(Nullable(String)),
    device                LowCardinality(Nullable(String)),
    sent_at               Nullable(DateTime64(3, 'UTC')),
    received_at           DateTime64(3, 'UTC'),
    time_clamped          Bool DEFAULT false,
    schema_version        UInt8 DEFAULT 1,
    INDEX idx_type type TYPE set(0) GRANULARITY 4,
    INDEX idx_course course_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_video video_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_assessment assessment_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_started started_at TYPE minmax GRANULARITY 4
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (tenant_id, user_id, timestamp, id)
SETTINGS non_replicated_deduplication_window = 10000;

-- Platform samples: a field the sample's `type` lacks is 0 or an empty map.
CREATE TABLE IF NOT EXISTS lms_telemetry
(
    tenant_id           LowCardinality(String),
    id                  UUID,
    user_id             String,
    timestamp           DateTime64(3, 'UTC'),
    type                LowCardinality(String),
    source              String,
    interval_seconds    UInt32,
    requests            UInt64,
    errors              UInt64,
    bytes_served        UInt64,
    latency_ms_sum      Float64,
    latency_ms_histogram Map(String, UInt64),
    requests_by_country Map(String, UInt64),
    requests_by_region  Map(String, UInt64),
    storage_used_bytes  UInt64,
    up_seconds          UInt32,
    sent_at             Nullable(DateTime64(3, 'UTC')),
    received_at         DateTime64(3, 'UTC'),
    time_clamped        Bool DEFAULT false,
    schema_version      UInt8 DEFAULT 1
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (tenant_id, user_id, timestamp, id)
SETTINGS non_replicated_deduplication_window = 10000;

-- Current state of the entities: one row per version, the newest version wins (ReplacingMergeTree(version),
-- read FINAL) whatever the arrival order; `is_deleted = 1` is the newest state of a soft-deleted entity.
-- `updated_at` is the version's timestamp. State, not events: no time partition, no TTL.
CREATE TABLE IF NOT EXISTS lms_institutes
(
    tenant_id    LowCardinality(String),
    institute_id UInt64,
    name         String,
    version      UInt64,
    is_deleted   UInt8,
    updated_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant_id, institute_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- A course's videos and assessments as parallel arrays (hundredths of points: *_centi).
CREATE TABLE IF NOT EXISTS lms_courses
(
    tenant_id           LowCardinality(String),
    course_id           UInt64,
    institute_id        UInt64,
    title               String,
    teacher_ids         Array(UInt64),
    is_published        UInt8,
    published_at        Nullable(DateTime64(3, 'UTC')),
    video_ids           Array(UInt64),
    video_seconds       Array(UInt32),
    assessment_ids      Array(UInt64),
    assessment_types    Array(LowCardinality(String)),
    max_score_centi     Array(UInt64),
    passing_score_centi Array(Nullable(UInt64)),
    version             UInt64,
    is_deleted          UInt8,
    updated_at          DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant_id, course_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS lms_users
(
    tenant_id    LowCardinality(String),
    user_id      String,
    user_type    LowCardinality(String),
    lms_user_id  UInt64,
    institute_id UInt64,
    signed_up_at DateTime64(3, 'UTC'),
    version      UInt64,
    is_deleted   UInt8,
    updated_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant_id, user_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS lms_enrollments
(
    tenant_id      LowCardinality(String),
    user_id        String,
    student_id     UInt64,
    course_id      UInt64,
    enrolled_at    DateTime64(3, 'UTC'),
    status         LowCardinality(String),
    progress_centi UInt32,
    completed_at   Nullable(DateTime64(3, 'UTC')),
    dropped_at     Nullable(DateTime64(3, 'UTC')),
    version        UInt64,
    is_deleted     UInt8,
    updated_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant_id, course_id, user_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- The LMS feeds, rollup tables and views: generated by `python -m schemas.rollups` from schemas/lms_rollups.py
-- (the LMS items); never edit once applied.
CREATE TABLE IF NOT EXISTS feed_lms_activity
(
    tenant_id LowCardinality(String),
    user_id String,
    day Date,
    week Date,
    month Date,
    user_type LowCardinality(String),
    type LowCardinality(String),
    course_id UInt64,
    course_or_null Nullable(UInt64),
    video_or_null Nullable(UInt64),
    submitted_quiz Nullable(UInt64),
    submitted_assignment Nullable(UInt64),
    is_view UInt8,
    quiz_started UInt8,
    watch_seconds UInt64,
    session_seconds UInt64,
    hour_of_week UInt8
)
ENGINE = Null;

CREATE TABLE IF NOT EXISTS feed_lms_video
(
    tenant_id LowCardinality(String),
    user_id String,
    day Date,
    week Date,
    month Date,
    course_id UInt64,
    video_id UInt64,
    device_type LowCardinality(String),
    playback_quality LowCardinality(String),
    watch_duration UInt64,
    completion_centi UInt64,
    completed UInt8,
    buffer_events UInt64,
    seek_events UInt64
)
ENGINE = Null;

CREATE TABLE IF NOT EXISTS feed_lms_attempts
(
    tenant_id LowCardinality(String),
    user_id String,
    day Date,
    week Date,
    month Date,
    course_id UInt64,
    assessment_type LowCardinality(String),
    assessment_id UInt64,
    attempt_id UInt64,
    state LowCardinality(String),
    score_centi Nullable(UInt64),
    max_score_centi UInt64,
    passed Nullable(UInt8),
    time_taken_seconds Nullable(UInt32),
    snapshot_version UInt64
)
ENGINE = Null;

CREATE TABLE IF NOT EXISTS feed_lms_enrollments
(
    tenant_id LowCardinality(String),
    user_id String,
    day Date,
    week Date,
    month Date,
    course_id UInt64,
    status LowCardinality(String),
    progress_centi UInt32,
    is_deleted UInt8,
    version UInt64
)
ENGINE = Null;

CREATE TABLE IF NOT EXISTS feed_lms_telemetry
(
    tenant_id LowCardinality(String),
    user_id String,
    day Date,
    week Date,
    month Date,
    source String,
    type LowCardinality(String),
    requests UInt64,
    errors UInt64,
    bytes_served UInt64,
    latency_us_sum UInt64,
    latency_ms_histogram Map(String, UInt64),
    requests_by_country Map(String, UInt64),
    requests_by_region Map(String, UInt64),
    observed_seconds UInt64,
    up_seconds UInt64,
    storage_used_bytes UInt64,
    sampled_at DateTime64(3, 'UTC')
)
ENGINE = Null;

CREATE TABLE IF NOT EXISTS rollup_lms_course_activity
(
    tenant_id LowCardinality(String),
    grain Enum8('daily' = 1, 'weekly' = 2, 'monthly' = 3),
    bucket Date,
    user_id String,
    user_type LowCardinality(String),
    course_id UInt64,
    events SimpleAggregateFunction(sum, UInt64),
    views SimpleAggregateFunction(sum, UInt64),
    video_views SimpleAggregateFunction(sum, UInt64),
    watch_seconds SimpleAggregateFunction(sum, UInt64),
    completions SimpleAggregateFunction(sum, UInt64),
    quiz_attempts SimpleAggregateFunction(sum, UInt64),
    quiz_submissions SimpleAggregateFunction(sum, UInt64),
    assignment_submissions SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant_id, user_id, grain, bucket, user_type, course_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_rollup_lms_course_activity TO rollup_lms_course_activity AS
SELECT tenant_id, grain, bucket, user_id, user_type, course_id, count() AS events, countIf(is_view = 1) AS views, countIf(type = 'video_watched') AS video_views, toUInt64(sum(watch_seconds)) AS watch_seconds, countIf(type = 'course_completed') AS completions, countIf(quiz_started = 1) AS quiz_attempts, countIf(type = 'assessment_submitted' AND submitted_quiz IS NOT NULL) AS quiz_submissions, countIf(type = 'assessment_submitted' AND submitted_assignment IS NOT NULL) AS assignment_submissions
FROM feed_lms_activity ARRAY JOIN ['daily', 'weekly', 'monthly'] AS grain, [day, week, month] AS bucket
WHERE course_id > 0
GROUP BY tenant_id, grain, bucket, user_id, user_type, course_id;

CREATE TABLE IF NOT EXISTS rollup_lms_user_days
(
    tenant_id LowCardinality(String),
    grain Enum8('daily' = 1, 'weekly' = 2, 'monthly' = 3),
    bucket Date,
    user_id String,
    user_type LowCardinality(String),
    events SimpleAggregateFunction(sum, UInt64),
    logins SimpleAggregateFunction(sum, UInt64),
    sessions_ended SimpleAggregateFunction(sum, UInt64),
    session_seconds SimpleAggregateFunction(sum, UInt64),
    courses_accessed AggregateFunction(uniqExact, Nullable(UInt64)),
    videos_watched AggregateFunction(uniqExact, Nullable(UInt64)),
    video_views SimpleAggregateFunction(sum, UInt64),
    quizzes_attempted SimpleAggregateFunction(sum, UInt64),
    quizzes_completed AggregateFunction(uniqExact, Nullable(UInt64)),
    assignments_submitted AggregateFunction(uniqExact, Nullable(UInt64)),
    courses_completed SimpleAggregateFunction(sum, UInt64),
    events_by_hour SimpleAggregateFunction(sumMap, Map(String, UInt64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant_id, user_id, grain, bucket, user_type)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_rollup_lms_user_days TO rollup_lms_user_days AS
SELECT tenant_id, grain, bucket, user_id, user_type, count() AS events, countIf(type = 'login') AS logins, countIf(type = 'logout') AS sessions_ended, toUInt64(sum(session_seconds)) AS session_seconds, uniqExactState(course_or_null) AS courses_accessed, uniqExactState(video_or_null) AS videos_watched, countIf(type = 'video_watched') AS video_views, countIf(quiz_started = 1) AS quizzes_attempted, uniqExactState(submitted_quiz) AS quizzes_completed, uniqExactState(submitted_assignment) AS assignments_submitted, countIf(type = 'course_completed') AS courses_completed, sumMap(map(toString(hour_of_week), toUInt64(1))) AS events_by_hour
FROM feed_lms_activity ARRAY JOIN ['daily', 'weekly', 'monthly'] AS grain, [day, week, month] AS bucket
GROUP BY tenant_id, grain, bucket, user_id, user_type;

CREATE TABLE IF NOT EXISTS rollup_lms_video_views
(
    tenant_id LowCardinality(String),
    grain Enum8('daily' = 1, 'weekly' = 2, 'monthly' = 3),
    bucket Date,
    user_id String,
    course_id UInt64,
    video_id UInt64,
    device_type LowCardinality(String),
    playback_quality LowCardinality(String),
    watch_sessions SimpleAggregateFunction(sum, UInt64),
    watch_seconds SimpleAggregateFunction(sum, UInt64),
    completion_centi SimpleAggregateFunction(sum, UInt64),
    completed_sessions SimpleAggregateFunction(sum, UInt64),
    buffer_events SimpleAggregateFunction(sum, UInt64),
    seek_events SimpleAggregateFunction(sum, UInt64),
    q_watch_seconds AggregateFunction(quantilesTDigest(0.5, 0.75, 0.95), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant_id, user_id, grain, bucket, course_id, video_id, device_type, playback_quality)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_rollup_lms_video_views TO rollup_lms_video_views AS
SELECT tenant_id, grain, bucket, user_id, course_id, video_id, device_type, playback_quality, count() AS watch_sessions, toUInt64(sum(watch_duration)) AS watch_seconds, toUInt64(sum(completion_centi)) AS completion_centi, toUInt64(sum(completed)) AS completed_sessions, toUInt64(sum(buffer_events)) AS buffer_events, toUInt64(sum(seek_events)) AS seek_events, quantilesTDigestState(0.5, 0.75, 0.95)(toFloat64(watch_duration)) AS q_watch_seconds
FROM feed_lms_video ARRAY JOIN ['daily', 'weekly', 'monthly'] AS grain, [day, week, month] AS bucket
GROUP BY tenant_id, grain, bucket, user_id, course_id, video_id, device_type, playback_quality;

CREATE TABLE IF NOT EXISTS rollup_lms_attempts
(
    tenant_id LowCardinality(String),
    grain Enum8('daily' = 1, 'weekly' = 2, 'monthly' = 3),
    bucket Date,
    user_id String,
    course_id UInt64,
    assessment_type LowCardinality(String),
    assessment_id UInt64,
    attempt_id UInt64,
    state LowCardinality(String),
    score_centi Nullable(UInt64),
    max_score_centi UInt64,
    passed Nullable(UInt8),
    time_taken_seconds Nullable(UInt32),
    snapshot_version UInt64
)
ENGINE = ReplacingMergeTree(snapshot_version)
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant_id, user_id, grain, bucket, course_id, assessment_type, assessment_id, attempt_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_rollup_lms_attempts TO rollup_lms_attempts AS
SELECT tenant_id, 'daily' AS grain, day AS bucket, user_id, course_id, assessment_type, assessment_id, attempt_id, state AS state, score_centi AS score_centi, max_score_centi AS max_score_centi, passed AS passed, time_taken_seconds AS time_taken_seconds, snapshot_version
FROM feed_lms_attempts;

CREATE TABLE IF NOT EXISTS rollup_lms_enrollment_progress
(
    tenant_id LowCardinality(String),
    grain Enum8('daily' = 1, 'weekly' = 2, 'monthly' = 3),
    bucket Date,
    user_id String,
    course_id UInt64,
    status LowCardinality(String),
    progress_centi UInt32,
    is_deleted UInt8,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant_id, user_id, grain, bucket, course_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_rollup_lms_enrollment_progress TO rollup_lms_enrollment_progress AS
SELECT tenant_id, 'daily' AS grain, day AS bucket, user_id, course_id, status AS status, progress_centi AS progress_centi, is_deleted AS is_deleted, version
FROM feed_lms_enrollments;

CREATE TABLE IF NOT EXISTS rollup_lms_platform_traffic
(
    tenant_id LowCardinality(String),
    grain Enum8('daily' = 1, 'weekly' = 2, 'monthly' = 3),
    bucket Date,
    source String,
    samples SimpleAggregateFunction(sum, UInt64),
    requests SimpleAggregateFunction(sum, UInt64),
    errors SimpleAggregateFunction(sum, UInt64),
    bytes_served SimpleAggregateFunction(sum, UInt64),
    latency_us_sum SimpleAggregateFunction(sum, UInt64),
    latency_ms_histogram SimpleAggregateFunction(sumMap, Map(String, UInt64)),
    requests_by_country SimpleAggregateFunction(sumMap, Map(String, UInt64)),
    requests_by_region SimpleAggregateFunction(sumMap, Map(String, UInt64)),
    observed_seconds SimpleAggregateFunction(sum, UInt64),
    up_seconds SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant_id, grain, bucket, source)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_rollup_lms_platform_traffic TO rollup_lms_platform_traffic AS
SELECT tenant_id, grain, bucket, source, count() AS samples, toUInt64(sum(requests)) AS requests, toUInt64(sum(errors)) AS errors, toUInt64(sum(bytes_served)) AS bytes_served, toUInt64(sum(latency_us_sum)) AS latency_us_sum, sumMap(latency_ms_histogram) AS latency_ms_histogram, sumMap(requests_by_country) AS requests_by_country, sumMap(requests_by_region) AS requests_by_region, toUInt64(sum(observed_seconds)) AS observed_seconds, toUInt64(sum(up_seconds)) AS up_seconds
FROM feed_lms_telemetry ARRAY JOIN ['daily', 'weekly', 'monthly'] AS grain, [day, week, month] AS bucket
GROUP BY tenant_id, grain, bucket, source;

CREATE TABLE IF NOT EXISTS rollup_lms_platform_storage
(
    tenant_id LowCardinality(String),
    grain Enum8('daily' = 1, 'weekly' = 2, 'monthly' = 3),
    bucket Date,
    source String,
    storage_used_bytes AggregateFunction(argMax, UInt64, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant_id, grain, bucket, source)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_rollup_lms_platform_storage TO rollup_lms_platform_storage AS
SELECT tenant_id, grain, bucket, source, argMaxState(storage_used_bytes, sampled_at) AS storage_used_bytes
FROM feed_lms_telemetry ARRAY JOIN ['daily', 'weekly', 'monthly'] AS grain, [day, week, month] AS bucket
WHERE type = 'storage'
GROUP BY tenant_id, grain, bucket, source;

-- Retention backstop (as 0012 and 0015 for the product's tables; docs/retention.md): rows past the LONGEST
-- retention a tenant may set, plus the grace. Generated from jobs.retention_tables.backstop_statements(); a
-- unit test keeps them equal. The current-state tables have none: state, not events.
ALTER TABLE lms_entity_upserts MODIFY TTL toDateTime(timestamp) + INTERVAL 3661 DAY;
ALTER TABLE lms_activity MODIFY TTL toDateTime(timestamp) + INTERVAL 3661 DAY;
ALTER TABLE lms_telemetry MODIFY TTL toDateTime(timestamp) + INTERVAL 3661 DAY;
ALTER TABLE rollup_lms_course_activity MODIFY TTL bucket + toIntervalDay(multiIf(grain = 'daily', 3662, grain = 'weekly', 7329, 7353));
ALTER TABLE rollup_lms_user_days MODIFY TTL bucket + toIntervalDay(multiIf(grain = 'daily', 3662, grain = 'weekly', 7329, 7353));
ALTER TABLE rollup_lms_video_views MODIFY TTL bucket + toIntervalDay(multiIf(grain = 'daily', 3662, grain = 'weekly', 7329, 7353));
ALTER TABLE rollup_lms_attempts MODIFY TTL bucket + INTERVAL 3662 DAY;
ALTER TABLE rollup_lms_enrollment_progress MODIFY TTL bucket + INTERVAL 3662 DAY;
ALTER TABLE rollup_lms_platform_traffic MODIFY TTL bucket + toIntervalDay(multiIf(grain = 'daily', 3662, grain = 'weekly', 7329, 7353));
ALTER TABLE rollup_lms_platform_storage MODIFY TTL bucket + toIntervalDay(multiIf(grain = 'daily', 3662, grain = 'weekly', 7329, 7353));
