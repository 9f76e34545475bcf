-- The dashboard's event, page and session figures from one read of the per-session rollup (ADR 0011):
-- rollup_session_pages gains the session-day's error count, its page views by page and its events by name.
-- Generated from schemas/rollups.py (`table_ddl`/`view_ddl` of session_pages) when written; never edit once applied.
-- The view's query is replaced in place (ALTER ... MODIFY QUERY on a view writing TO a table), so no event
-- between two statements misses the rollup. Rows written before this migration keep zeros and empty maps;
-- readers recognise such a row (its events by name add up to less than its events) and fall back to the
-- user-events and page-views rollups for that range; `analytics rebuild-rollups` over the days the raw
-- tables still hold fills them in (docs/operations.md). Re-running an ADD COLUMN IF NOT EXISTS is a no-op,
-- and so is setting the same query again.
ALTER TABLE rollup_session_pages ADD COLUMN IF NOT EXISTS errors SimpleAggregateFunction(sum, UInt64);

ALTER TABLE rollup_session_pages ADD COLUMN IF NOT EXISTS views_by_page SimpleAggregateFunction(sumMap, Map(String, UInt64));

ALTER TABLE rollup_session_pages ADD COLUMN IF NOT EXISTS events_by_name SimpleAggregateFunction(sumMap, Map(String, UInt64));

ALTER TABLE mv_rollup_session_pages MODIFY QUERY
SELECT tenant_id, 'daily' AS grain, day AS bucket, user_id, session_id, count() AS events, toUInt64(sum(is_page_view)) AS page_views, countIf(event_type = 'error_event') AS errors, sumMapIf(map(toString(page), toUInt64(1)), is_page_view = 1) AS views_by_page, sumMap(map(toString(event_name), toUInt64(1))) AS events_by_name
FROM feed_events
GROUP BY tenant_id, grain, bucket, user_id, session_id;
