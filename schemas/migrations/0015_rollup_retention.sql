-- Retention backstop of the one-table-per-rollup layout (ADR 0008, docs/retention.md): 0012's TTLs went with
-- the per-grain tables 0014 dropped. Each rollup table expires a row past the LONGEST retention a tenant may set
-- for the row's grain (daily 3660 days, weekly/monthly 7320) plus 0012's grace (two days, plus the bucket's
-- length for weekly and monthly rows: 7 and 31 days), one expression choosing by the `grain` column; a
-- daily-only rollup needs no choice. The raw tables keep 0012's TTLs.
-- Generated from stream_processors.retention.backstop_statements(ROLLUP_RETAINED); a unit test keeps the last
-- TTL of every retained table in the migrations equal to the code's. Existing parts are rewritten once to
-- record their TTL (materialize_ttl_after_modify; a background mutation on a server). Re-running a statement
-- sets the same TTL again.
ALTER TABLE rollup_user_events MODIFY TTL bucket + toIntervalDay(multiIf(grain = 'daily', 3662, grain = 'weekly', 7329, 7353));
ALTER TABLE rollup_page_views MODIFY TTL bucket + toIntervalDay(multiIf(grain = 'daily', 3662, grain = 'weekly', 7329, 7353));
ALTER TABLE rollup_session_pages MODIFY TTL bucket + INTERVAL 3662 DAY;
ALTER TABLE rollup_user_performance MODIFY TTL bucket + toIntervalDay(multiIf(grain = 'daily', 3662, grain = 'weekly', 7329, 7353));
ALTER TABLE rollup_user_usage MODIFY TTL bucket + toIntervalDay(multiIf(grain = 'daily', 3662, grain = 'weekly', 7329, 7353));
ALTER TABLE rollup_feature_usage MODIFY TTL bucket + toIntervalDay(multiIf(grain = 'daily', 3662, grain = 'weekly', 7329, 7353));
ALTER TABLE rollup_user_activities MODIFY TTL bucket + toIntervalDay(multiIf(grain = 'daily', 3662, grain = 'weekly', 7329, 7353));
