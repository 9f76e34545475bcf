-- Raw analytics events (product-analytics seed, table analytics_events).
-- Ordered for the seed's idx_user_timestamp; skip indexes serve idx_event_type, idx_event_category, idx_session.
-- ReplacingMergeTree collapses a redelivered row with the same sorting key; insert deduplication tokens
-- (non_replicated_deduplication_window) drop a re-inserted batch outright.
CREATE TABLE IF NOT EXISTS analytics_events
(
    tenant_id      LowCardinality(String),
    id             UUID,
    user_id        String,
    session_id     String,
    event_type     Enum8('user_action' = 1, 'system_event' = 2, 'performance_event' = 3, 'error_event' = 4, 'business_event' = 5, 'engagement_event' = 6),
    event_name     LowCardinality(String),
    event_category Enum8('navigation' = 1, 'interaction' = 2, 'content' = 3, 'marketplace' = 4, 'projects' = 5, 'assets' = 6, 'authentication' = 7, 'settings' = 8, 'performance' = 9, 'errors' = 10),
    properties     String CODEC(ZSTD(3)),
    timestamp      DateTime64(3, 'UTC'),
    source         Enum8('web_app' = 1, 'mobile_app' = 2, 'desktop_app' = 3, 'api' = 4, 'webhook' = 5, 'system' = 6),
    platform       Enum8('web' = 1, 'mobile' = 2, 'desktop' = 3, 'tablet' = 4, 'unknown' = 5),
    user_agent     String CODEC(ZSTD(3)),
    ip_address     String,
    location       String CODEC(ZSTD(3)),
    sent_at        Nullable(DateTime64(3, 'UTC')),
    received_at    DateTime64(3, 'UTC'),
    time_clamped   Bool DEFAULT false,
    schema_version UInt8 DEFAULT 1,
    ingested_at    DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_event_type event_type TYPE set(0) GRANULARITY 4,
    INDEX idx_event_category event_category TYPE set(0) GRANULARITY 4,
    INDEX idx_session session_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (tenant_id, user_id, timestamp, id)
SETTINGS non_replicated_deduplication_window = 10000;
