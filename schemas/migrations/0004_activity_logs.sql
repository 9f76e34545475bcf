-- Raw activity logs (product-analytics seed, table activity_logs).
-- `tags` (a JSON array of strings in the seed) is an Array(String) so it can be filtered with has().
CREATE TABLE IF NOT EXISTS activity_logs
(
    tenant_id         LowCardinality(String),
    id                UUID,
    user_id           String,
    session_id        String,
    timestamp         DateTime64(3, 'UTC'),
    activity_type     Enum8('user_action' = 1, 'system_action' = 2, 'api_call' = 3, 'data_change' = 4, 'authentication' = 5, 'authorization' = 6, 'error' = 7, 'warning' = 8, 'info' = 9),
    activity_category Enum8('account' = 1, 'projects' = 2, 'assets' = 3, 'marketplace' = 4, 'collaboration' = 5, 'settings' = 6, 'security' = 7, 'payment' = 8, 'integration' = 9, 'system' = 10),
    description       String CODEC(ZSTD(3)),
    details           String CODEC(ZSTD(3)),
    metadata          String CODEC(ZSTD(3)),
    severity          Enum8('critical' = 1, 'error' = 2, 'warning' = 3, 'info' = 4, 'debug' = 5, 'trace' = 6),
    tags              Array(String),
    sent_at           Nullable(DateTime64(3, 'UTC')),
    received_at       DateTime64(3, 'UTC'),
    time_clamped      Bool DEFAULT false,
    schema_version    UInt8 DEFAULT 1,
    ingested_at       DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_activity_type activity_type TYPE set(0) GRANULARITY 4,
    INDEX idx_severity severity TYPE set(0) GRANULARITY 4,
    INDEX idx_session session_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (tenant_id, user_id, timestamp, id)
SETTINGS non_replicated_deduplication_window = 10000;
