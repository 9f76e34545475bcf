-- The dashboard's usage from one read (ADR 0011): a day's usage summary carries its features' usage counts by
-- name (`feature_uses`), so the newest summary of a day replaces its features with it; `features_recorded` is 1
-- on rows written since, 0 on rows stored before. Generated from schemas/rollups.py (USAGE_FEED, `table_ddl`/
-- `view_ddl` of user_usage) when written; never edit once applied.
-- The feed gains the columns first (writers of the previous version insert without them: 0 and an empty map),
-- then the rollup table (in the declared column order), then the view's query is replaced in place. The
-- dashboard reads the per-feature rollup for a range whose newest summary of some day predates this migration.
-- Re-running an ADD COLUMN IF NOT EXISTS is a no-op, and so is setting the same query again.
ALTER TABLE feed_usage ADD COLUMN IF NOT EXISTS feature_uses Map(String, UInt64);

ALTER TABLE feed_usage ADD COLUMN IF NOT EXISTS features_recorded UInt8;

ALTER TABLE rollup_user_usage ADD COLUMN IF NOT EXISTS feature_uses Map(String, UInt64) AFTER engagement_score;

ALTER TABLE rollup_user_usage ADD COLUMN IF NOT EXISTS features_recorded UInt8 AFTER feature_uses;

ALTER TABLE mv_rollup_user_usage MODIFY QUERY
SELECT tenant_id, grain, bucket, user_id, date, session_count AS session_count, total_session_duration AS total_session_duration, page_views AS page_views, unique_pages_visited AS unique_pages_visited, engagement_score AS engagement_score, feature_uses AS feature_uses, features_recorded AS features_recorded, received_at
FROM feed_usage ARRAY JOIN ['daily', 'weekly', 'monthly'] AS grain, [day, week, month] AS bucket;
