-- The `video_watched` rows of lms_activity again, sorted by course and start time (ADR 0022, fifth pass): a
-- course's watch sessions of a period are one range of this table, where lms_activity (sorted by person) made
-- the read scan every activity row of the tenant. A materialized view copies each row as lms_activity stores
-- it; the copy below brings the rows stored before. Same engine and version column as lms_activity: a
-- redelivered event (same person, time and id) collapses here too, and readers keep the newest received copy.
-- Partitioned by the event's month like every retained table (jobs/retention_tables.py); erasure deletes a
-- person's rows from it with the rollups' (privacy/personal_data.py).
CREATE TABLE IF NOT EXISTS lms_video_sessions
(
    tenant_id             LowCardinality(String),
    course_id             UInt64,
    start_time            DateTime64(3, 'UTC'),
    user_id               String,
    timestamp             DateTime64(3, 'UTC'),
    id                    UUID,
    lms_user_id           UInt64,
    video_id              UInt64,
    session_id            Nullable(String),
    watch_duration        Nullable(UInt32),
    completion_percentage Nullable(Decimal(5, 2)),
    end_time              Nullable(DateTime64(3, 'UTC')),
    device_type           LowCardinality(Nullable(String)),
    playback_quality      LowCardinality(Nullable(String)),
    buffer_events         Nullable(UInt32),
    seek_events           Nullable(UInt32),
    received_at           DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (tenant_id, course_id, start_time, user_id, timestamp, id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_lms_video_sessions TO lms_video_sessions AS
SELECT tenant_id, course_id, assumeNotNull(start_time) AS start_time, user_id, timestamp, id, lms_user_id, video_id,
    session_id, watch_duration, completion_percentage, end_time, device_type, playback_quality, buffer_events,
    seek_events, received_at
FROM lms_activity
WHERE type = 'video_watched' AND start_time IS NOT NULL;

INSERT INTO lms_video_sessions (tenant_id, course_id, start_time, user_id, timestamp, id, lms_user_id, video_id,
    session_id, watch_duration, completion_percentage, end_time, device_type, playback_quality, buffer_events,
    seek_events, received_at)
SETTINGS insert_deduplication_token = '0021/lms_video_sessions', max_threads = 1
SELECT tenant_id, course_id, assumeNotNull(start_time), user_id, timestamp, id, lms_user_id, video_id, session_id,
    watch_duration, completion_percentage, end_time, device_type, playback_quality, buffer_events, seek_events,
    received_at
FROM lms_activity
WHERE type = 'video_watched' AND start_time IS NOT NULL;

-- Retention backstop, as lms_activity's (jobs.retention_tables.backstop_statements()).
ALTER TABLE lms_video_sessions MODIFY TTL toDateTime(timestamp) + INTERVAL 3661 DAY;
