-- Retention backstop (docs/retention.md): every raw and rollup table expires rows past the LONGEST retention
-- a tenant may set (schemas.tenant_config.Retention's bounds: raw and daily rollups 3660 days, weekly/monthly
-- rollups 7320 days), plus a grace so it never removes a row the retention job would keep (one day for event
-- times, two for dates, plus the bucket's length for weekly and monthly rollups). A table TTL cannot depend
-- on the tenant (a dictGet TTL is refused as non-deterministic and goes stale when settings change), so each
-- tenant's own, shorter retention is enforced by `analytics retention` (stream_processors/retention.py).
-- Generated from stream_processors.retention.backstop_statements(); a unit test keeps them equal. Existing
-- parts are rewritten once to record their TTL (materialize_ttl_after_modify; a background mutation on a
-- server). Re-running a statement sets the same TTL again.
ALTER TABLE analytics_events MODIFY TTL toDateTime(timestamp) + INTERVAL 3661 DAY;
ALTER TABLE performance_metrics MODIFY TTL toDateTime(timestamp) + INTERVAL 3661 DAY;
ALTER TABLE usage_metrics MODIFY TTL date + INTERVAL 3662 DAY;
ALTER TABLE activity_logs MODIFY TTL toDateTime(timestamp) + INTERVAL 3661 DAY;
ALTER TABLE rollup_user_events_daily MODIFY TTL bucket + INTERVAL 3662 DAY;
ALTER TABLE rollup_user_events_weekly MODIFY TTL bucket + INTERVAL 7329 DAY;
ALTER TABLE rollup_user_events_monthly MODIFY TTL bucket + INTERVAL 7353 DAY;
ALTER TABLE rollup_page_views_daily MODIFY TTL bucket + INTERVAL 3662 DAY;
ALTER TABLE rollup_page_views_weekly MODIFY TTL bucket + INTERVAL 7329 DAY;
ALTER TABLE rollup_page_views_monthly MODIFY TTL bucket + INTERVAL 7353 DAY;
ALTER TABLE rollup_session_pages_daily MODIFY TTL bucket + INTERVAL 3662 DAY;
ALTER TABLE rollup_session_pages_weekly MODIFY TTL bucket + INTERVAL 7329 DAY;
ALTER TABLE rollup_session_pages_monthly MODIFY TTL bucket + INTERVAL 7353 DAY;
ALTER TABLE rollup_user_performance_daily MODIFY TTL bucket + INTERVAL 3662 DAY;
ALTER TABLE rollup_user_performance_weekly MODIFY TTL bucket + INTERVAL 7329 DAY;
ALTER TABLE rollup_user_performance_monthly MODIFY TTL bucket + INTERVAL 7353 DAY;
ALTER TABLE rollup_user_usage_daily MODIFY TTL bucket + INTERVAL 3662 DAY;
ALTER TABLE rollup_user_usage_weekly MODIFY TTL bucket + INTERVAL 7329 DAY;
ALTER TABLE rollup_user_usage_monthly MODIFY TTL bucket + INTERVAL 7353 DAY;
ALTER TABLE rollup_feature_usage_daily MODIFY TTL bucket + INTERVAL 3662 DAY;
ALTER TABLE rollup_feature_usage_weekly MODIFY TTL bucket + INTERVAL 7329 DAY;
ALTER TABLE rollup_feature_usage_monthly MODIFY TTL bucket + INTERVAL 7353 DAY;
ALTER TABLE rollup_user_activities_daily MODIFY TTL bucket + INTERVAL 3662 DAY;
ALTER TABLE rollup_user_activities_weekly MODIFY TTL bucket + INTERVAL 7329 DAY;
ALTER TABLE rollup_user_activities_monthly MODIFY TTL bucket + INTERVAL 7353 DAY;
