-- One table per rollup, its grains in a `grain` column, one materialized view each (ADR 0008), replacing a
-- table and a view per rollup and grain (0006). Generated from schemas/rollups.py (`rollup_ddl()`) when written;
-- never edit once applied.
-- Order: the old views stop, the new tables and views start, then every old row is copied with its grain. Each
-- copy carries an insert_deduplication_token, so re-running this migration (a crash half-way, two migrate
-- processes at once) copies nothing twice; the old tables stay until 0014 so a re-run can read them again.
-- Rows that reach the feeds between the first and the second step reach no rollup: run it with the rollup
-- writers stopped, or `analytics rebuild-rollups` the minutes it took afterwards. The copy rewrites every
-- rollup row once (docs/operations.md).
-- session_pages keeps its daily rows only (its weekly and monthly rows repeated them and nothing read them).
DROP VIEW IF EXISTS mv_rollup_user_events_daily;

DROP VIEW IF EXISTS mv_rollup_user_events_weekly;

DROP VIEW IF EXISTS mv_rollup_user_events_monthly;

DROP VIEW IF EXISTS mv_rollup_page_views_daily;

DROP VIEW IF EXISTS mv_rollup_page_views_weekly;

DROP VIEW IF EXISTS mv_rollup_page_views_monthly;

DROP VIEW IF EXISTS mv_rollup_session_pages_daily;

DROP VIEW IF EXISTS mv_rollup_session_pages_weekly;

DROP VIEW IF EXISTS mv_rollup_session_pages_monthly;

DROP VIEW IF EXISTS mv_rollup_user_performance_daily;

DROP VIEW IF EXISTS mv_rollup_user_performance_weekly;

DROP VIEW IF EXISTS mv_rollup_user_performance_monthly;

DROP VIEW IF EXISTS mv_rollup_user_usage_daily;

DROP VIEW IF EXISTS mv_rollup_user_usage_weekly;

DROP VIEW IF EXISTS mv_rollup_user_usage_monthly;

DROP VIEW IF EXISTS mv_rollup_feature_usage_daily;

DROP VIEW IF EXISTS mv_rollup_feature_usage_weekly;

DROP VIEW IF EXISTS mv_rollup_feature_usage_monthly;

DROP VIEW IF EXISTS mv_rollup_user_activities_daily;

DROP VIEW IF EXISTS mv_rollup_user_activities_weekly;

DROP VIEW IF EXISTS mv_rollup_user_activities_monthly;

CREATE TABLE IF NOT EXISTS rollup_user_events
(
    tenant_id LowCardinality(String),
    grain Enum8('daily' = 1, 'weekly' = 2, 'monthly' = 3),
    bucket Date,
    user_id String,
    event_type LowCardinality(String),
    event_category LowCardinality(String),
    event_name LowCardinality(String),
    events SimpleAggregateFunction(sum, UInt64),
    sessions AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant_id, user_id, grain, bucket, event_type, event_category, event_name)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_rollup_user_events TO rollup_user_events AS
SELECT tenant_id, grain, bucket, user_id, event_type, event_category, event_name, count() AS events, uniqExactState(session_id) AS sessions
FROM feed_events ARRAY JOIN ['daily', 'weekly', 'monthly'] AS grain, [day, week, month] AS bucket
GROUP BY tenant_id, grain, bucket, user_id, event_type, event_category, event_name;

CREATE TABLE IF NOT EXISTS rollup_page_views
(
    tenant_id LowCardinality(String),
    grain Enum8('daily' = 1, 'weekly' = 2, 'monthly' = 3),
    bucket Date,
    user_id String,
    page String,
    views SimpleAggregateFunction(sum, UInt64),
    sessions AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant_id, user_id, grain, bucket, page)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_rollup_page_views TO rollup_page_views AS
SELECT tenant_id, grain, bucket, user_id, page, count() AS views, uniqExactState(session_id) AS sessions
FROM feed_events ARRAY JOIN ['daily', 'weekly', 'monthly'] AS grain, [day, week, month] AS bucket
WHERE is_page_view = 1
GROUP BY tenant_id, grain, bucket, user_id, page;

CREATE TABLE IF NOT EXISTS rollup_session_pages
(
    tenant_id LowCardinality(String),
    grain Enum8('daily' = 1, 'weekly' = 2, 'monthly' = 3),
    bucket Date,
    user_id String,
    session_id String,
    events SimpleAggregateFunction(sum, UInt64),
    page_views SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant_id, user_id, grain, bucket, session_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_rollup_session_pages TO rollup_session_pages AS
SELECT tenant_id, 'daily' AS grain, day AS bucket, user_id, session_id, count() AS events, toUInt64(sum(is_page_view)) AS page_views
FROM feed_events
GROUP BY tenant_id, grain, bucket, user_id, session_id;

CREATE TABLE IF NOT EXISTS rollup_user_performance
(
    tenant_id LowCardinality(String),
    grain Enum8('daily' = 1, 'weekly' = 2, 'monthly' = 3),
    bucket Date,
    user_id String,
    page String,
    samples SimpleAggregateFunction(sum, UInt64),
    avg_page_load_time AggregateFunction(avg, Float64),
    avg_time_to_first_byte AggregateFunction(avg, Float64),
    avg_first_contentful_paint AggregateFunction(avg, Float64),
    avg_largest_contentful_paint AggregateFunction(avg, Float64),
    avg_first_input_delay AggregateFunction(avg, Float64),
    avg_total_blocking_time AggregateFunction(avg, Float64),
    avg_cumulative_layout_shift AggregateFunction(avg, Float64),
    q_page_load_time AggregateFunction(quantilesTDigest(0.5, 0.75, 0.95), Float64),
    q_time_to_first_byte AggregateFunction(quantilesTDigest(0.5, 0.75, 0.95), Float64),
    q_first_contentful_paint AggregateFunction(quantilesTDigest(0.5, 0.75, 0.95), Float64),
    q_largest_contentful_paint AggregateFunction(quantilesTDigest(0.5, 0.75, 0.95), Float64),
    q_first_input_delay AggregateFunction(quantilesTDigest(0.5, 0.75, 0.95), Float64),
    q_total_blocking_time AggregateFunction(quantilesTDigest(0.5, 0.75, 0.95), Float64),
    q_cumulative_layout_shift AggregateFunction(quantilesTDigest(0.5, 0.75, 0.95), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant_id, user_id, grain, bucket, page)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_rollup_user_performance TO rollup_user_performance AS
SELECT tenant_id, grain, bucket, user_id, page, count() AS samples, avgState(toFloat64(page_load_time)) AS avg_page_load_time, avgState(toFloat64(time_to_first_byte)) AS avg_time_to_first_byte, avgState(toFloat64(first_contentful_paint)) AS avg_first_contentful_paint, avgState(toFloat64(largest_contentful_paint)) AS avg_largest_contentful_paint, avgState(toFloat64(first_input_delay)) AS avg_first_input_delay, avgState(toFloat64(total_blocking_time)) AS avg_total_blocking_time, avgState(toFloat64(cumulative_layout_shift)) AS avg_cumulative_layout_shift, quantilesTDigestState(0.5, 0.75, 0.95)(toFloat64(page_load_time)) AS q_page_load_time, quantilesTDigestState(0.5, 0.75, 0.95)(toFloat64(time_to_first_byte)) AS q_time_to_first_byte, quantilesTDigestState(0.5, 0.75, 0.95)(toFloat64(first_contentful_paint)) AS q_first_contentful_paint, quantilesTDigestState(0.5, 0.75, 0.95)(toFloat64(largest_contentful_paint)) AS q_largest_contentful_paint, quantilesTDigestState(0.5, 0.75, 0.95)(toFloat64(first_input_delay)) AS q_first_input_delay, quantilesTDigestState(0.5, 0.75, 0.95)(toFloat64(total_blocking_time)) AS q_total_blocking_time, quantilesTDigestState(0.5, 0.75, 0.95)(toFloat64(cumulative_layout_shift)) AS q_cumulative_layout_shift
FROM feed_performance ARRAY JOIN ['daily', 'weekly', 'monthly'] AS grain, [day, week, month] AS bucket
GROUP BY tenant_id, grain, bucket, user_id, page;

CREATE TABLE IF NOT EXISTS rollup_user_usage
(
    tenant_id LowCardinality(String),
    grain Enum8('daily' = 1, 'weekly' = 2, 'monthly' = 3),
    bucket Date,
    user_id String,
    date Date,
    session_count UInt32,
    total_session_duration UInt32,
    page_views UInt32,
    unique_pages_visited UInt32,
    engagement_score Float64,
    received_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant_id, user_id, grain, bucket, date)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_rollup_user_usage TO rollup_user_usage AS
SELECT tenant_id, grain, bucket, user_id, date, session_count AS session_count, total_session_duration AS total_session_duration, page_views AS page_views, unique_pages_visited AS unique_pages_visited, engagement_score AS engagement_score, received_at
FROM feed_usage ARRAY JOIN ['daily', 'weekly', 'monthly'] AS grain, [day, week, month] AS bucket;

CREATE TABLE IF NOT EXISTS rollup_feature_usage
(
    tenant_id LowCardinality(String),
    grain Enum8('daily' = 1, 'weekly' = 2, 'monthly' = 3),
    bucket Date,
    user_id String,
    date Date,
    feature_name String,
    category LowCardinality(String),
    usage_count UInt32,
    total_time_spent UInt32,
    received_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant_id, user_id, grain, bucket, date, feature_name, category)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_rollup_feature_usage TO rollup_feature_usage AS
SELECT tenant_id, grain, bucket, user_id, date, feature_name, category, usage_count AS usage_count, total_time_spent AS total_time_spent, received_at
FROM feed_usage_features ARRAY JOIN ['daily', 'weekly', 'monthly'] AS grain, [day, week, month] AS bucket;

CREATE TABLE IF NOT EXISTS rollup_user_activities
(
    tenant_id LowCardinality(String),
    grain Enum8('daily' = 1, 'weekly' = 2, 'monthly' = 3),
    bucket Date,
    user_id String,
    activity_type LowCardinality(String),
    activity_category LowCardinality(String),
    severity LowCardinality(String),
    activities SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant_id, user_id, grain, bucket, activity_type, activity_category, severity)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_rollup_user_activities TO rollup_user_activities AS
SELECT tenant_id, grain, bucket, user_id, activity_type, activity_category, severity, count() AS activities
FROM feed_activities ARRAY JOIN ['daily', 'weekly', 'monthly'] AS grain, [day, week, month] AS bucket
GROUP BY tenant_id, grain, bucket, user_id, activity_type, activity_category, severity;

INSERT INTO rollup_user_events (tenant_id, grain, bucket, user_id, event_type, event_category, event_name, events, sessions)
SETTINGS insert_deduplication_token = '0013/user_events/daily', max_threads = 1
SELECT tenant_id, 'daily', bucket, user_id, event_type, event_category, event_name, events, sessions
FROM rollup_user_events_daily;

INSERT INTO rollup_user_events (tenant_id, grain, bucket, user_id, event_type, event_category, event_name, events, sessions)
SETTINGS insert_deduplication_token = '0013/user_events/weekly', max_threads = 1
SELECT tenant_id, 'weekly', bucket, user_id, event_type, event_category, event_name, events, sessions
FROM rollup_user_events_weekly;

INSERT INTO rollup_user_events (tenant_id, grain, bucket, user_id, event_type, event_category, event_name, events, sessions)
SETTINGS insert_deduplication_token = '0013/user_events/monthly', max_threads = 1
SELECT tenant_id, 'monthly', bucket, user_id, event_type, event_category, event_name, events, sessions
FROM rollup_user_events_monthly;

INSERT INTO rollup_page_views (tenant_id, grain, bucket, user_id, page, views, sessions)
SETTINGS insert_deduplication_token = '0013/page_views/daily', max_threads = 1
SELECT tenant_id, 'daily', bucket, user_id, page, views, sessions
FROM rollup_page_views_daily;

INSERT INTO rollup_page_views (tenant_id, grain, bucket, user_id, page, views, sessions)
SETTINGS insert_deduplication_token = '0013/page_views/weekly', max_threads = 1
SELECT tenant_id, 'weekly', bucket, user_id, page, views, sessions
FROM rollup_page_views_weekly;

INSERT INTO rollup_page_views (tenant_id, grain, bucket, user_id, page, views, sessions)
SETTINGS insert_deduplication_token = '0013/page_views/monthly', max_threads = 1
SELECT tenant_id, 'monthly', bucket, user_id, page, views, sessions
FROM rollup_page_views_monthly;

INSERT INTO rollup_session_pages (tenant_id, grain, bucket, user_id, session_id, events, page_views)
SETTINGS insert_deduplication_token = '0013/session_pages/daily', max_threads = 1
SELECT tenant_id, 'daily', bucket, user_id, session_id, events, page_views
FROM rollup_session_pages_daily;

INSERT INTO rollup_user_performance (tenant_id, grain, bucket, user_id, page, samples, avg_page_load_time, avg_time_to_first_byte, avg_first_contentful_paint, avg_largest_contentful_paint, avg_first_input_delay, avg_total_blocking_time, avg_cumulative_layout_shift, q_page_load_time, q_time_to_first_byte, q_first_contentful_paint, q_largest_contentful_paint, q_first_input_delay, q_total_blocking_time, q_cumulative_layout_shift)
SETTINGS insert_deduplication_token = '0013/user_performance/daily', max_threads = 1
SELECT tenant_id, 'daily', bucket, user_id, page, samples, avg_page_load_time, avg_time_to_first_byte, avg_first_contentful_paint, avg_largest_contentful_paint, avg_first_input_delay, avg_total_blocking_time, avg_cumulative_layout_shift, q_page_load_time, q_time_to_first_byte, q_first_contentful_paint, q_largest_contentful_paint, q_first_input_delay, q_total_blocking_time, q_cumulative_layout_shift
FROM rollup_user_performance_daily;

INSERT INTO rollup_user_performance (tenant_id, grain, bucket, user_id, page, samples, avg_page_load_time, avg_time_to_first_byte, avg_first_contentful_paint, avg_largest_contentful_paint, avg_first_input_delay, avg_total_blocking_time, avg_cumulative_layout_shift, q_page_load_time, q_time_to_first_byte, q_first_contentful_paint, q_largest_contentful_paint, q_first_input_delay, q_total_blocking_time, q_cumulative_layout_shift)
SETTINGS insert_deduplication_token = '0013/user_performance/weekly', max_threads = 1
SELECT tenant_id, 'weekly', bucket, user_id, page, samples, avg_page_load_time, avg_time_to_first_byte, avg_first_contentful_paint, avg_largest_contentful_paint, avg_first_input_delay, avg_total_blocking_time, avg_cumulative_layout_shift, q_page_load_time, q_time_to_first_byte, q_first_contentful_paint, q_largest_contentful_paint, q_first_input_delay, q_total_blocking_time, q_cumulative_layout_shift
FROM rollup_user_performance_weekly;

INSERT INTO rollup_user_performance (tenant_id, grain, bucket, user_id, page, samples, avg_page_load_time, avg_time_to_first_byte, avg_first_contentful_paint, avg_largest_contentful_paint, avg_first_input_delay, avg_total_blocking_time, avg_cumulative_layout_shift, q_page_load_time, q_time_to_first_byte, q_first_contentful_paint, q_largest_contentful_paint, q_first_input_delay, q_total_blocking_time, q_cumulative_layout_shift)
SETTINGS insert_deduplication_token = '0013/user_performance/monthly', max_threads = 1
SELECT tenant_id, 'monthly', bucket, user_id, page, samples, avg_page_load_time, avg_time_to_first_byte, avg_first_contentful_paint, avg_largest_contentful_paint, avg_first_input_delay, avg_total_blocking_time, avg_cumulative_layout_shift, q_page_load_time, q_time_to_first_byte, q_first_contentful_paint, q_largest_contentful_paint, q_first_input_delay, q_total_blocking_time, q_cumulative_layout_shift
FROM rollup_user_performance_monthly;

INSERT INTO rollup_user_usage (tenant_id, grain, bucket, user_id, date, session_count, total_session_duration, page_views, unique_pages_visited, engagement_score, received_at)
SETTINGS insert_deduplication_token = '0013/user_usage/daily', max_threads = 1
SELECT tenant_id, 'daily', bucket, user_id, date, session_count, total_session_duration, page_views, unique_pages_visited, engagement_score, received_at
FROM rollup_user_usage_daily;

INSERT INTO rollup_user_usage (tenant_id, grain, bucket, user_id, date, session_count, total_session_duration, page_views, unique_pages_visited, engagement_score, received_at)
SETTINGS insert_deduplication_token = '0013/user_usage/weekly', max_threads = 1
SELECT tenant_id, 'weekly', bucket, user_id, date, session_count, total_session_duration, page_views, unique_pages_visited, engagement_score, received_at
FROM rollup_user_usage_weekly;

INSERT INTO rollup_user_usage (tenant_id, grain, bucket, user_id, date, session_count, total_session_duration, page_views, unique_pages_visited, engagement_score, received_at)
SETTINGS insert_deduplication_token = '0013/user_usage/monthly', max_threads = 1
SELECT tenant_id, 'monthly', bucket, user_id, date, session_count, total_session_duration, page_views, unique_pages_visited, engagement_score, received_at
FROM rollup_user_usage_monthly;

INSERT INTO rollup_feature_usage (tenant_id, grain, bucket, user_id, date, feature_name, category, usage_count, total_time_spent, received_at)
SETTINGS insert_deduplication_token = '0013/feature_usage/daily', max_threads = 1
SELECT tenant_id, 'daily', bucket, user_id, date, feature_name, category, usage_count, total_time_spent, received_at
FROM rollup_feature_usage_daily;

INSERT INTO rollup_feature_usage (tenant_id, grain, bucket, user_id, date, feature_name, category, usage_count, total_time_spent, received_at)
SETTINGS insert_deduplication_token = '0013/feature_usage/weekly', max_threads = 1
SELECT tenant_id, 'weekly', bucket, user_id, date, feature_name, category, usage_count, total_time_spent, received_at
FROM rollup_feature_usage_weekly;

INSERT INTO rollup_feature_usage (tenant_id, grain, bucket, user_id, date, feature_name, category, usage_count, total_time_spent, received_at)
SETTINGS insert_deduplication_token = '0013/feature_usage/monthly', max_threads = 1
SELECT tenant_id, 'monthly', bucket, user_id, date, feature_name, category, usage_count, total_time_spent, received_at
FROM rollup_feature_usage_monthly;

INSERT INTO rollup_user_activities (tenant_id, grain, bucket, user_id, activity_type, activity_category, severity, activities)
SETTINGS insert_deduplication_token = '0013/user_activities/daily', max_threads = 1
SELECT tenant_id, 'daily', bucket, user_id, activity_type, activity_category, severity, activities
FROM rollup_user_activities_daily;

INSERT INTO rollup_user_activities (tenant_id, grain, bucket, user_id, activity_type, activity_category, severity, activities)
SETTINGS insert_deduplication_token = '0013/user_activities/weekly', max_threads = 1
SELECT tenant_id, 'weekly', bucket, user_id, activity_type, activity_category, severity, activities
FROM rollup_user_activities_weekly;

INSERT INTO rollup_user_activities (tenant_id, grain, bucket, user_id, activity_type, activity_category, severity, activities)
SETTINGS insert_deduplication_token = '0013/user_activities/monthly', max_threads = 1
SELECT tenant_id, 'monthly', bucket, user_id, activity_type, activity_category, severity, activities
FROM rollup_user_activities_monthly;

