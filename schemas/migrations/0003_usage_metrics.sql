-- Raw daily usage summaries (product-analytics seed, table usage_metrics).
-- The seed's UNIQUE KEY (user_id, date) with updated_at becomes a ReplacingMergeTree keyed by
-- (tenant_id, user_id, date) whose newest received_at wins; readers use FINAL or argMax.
CREATE TABLE IF NOT EXISTS usage_metrics
(
    tenant_id                LowCardinality(String),
    id                       UUID,
    user_id                  String,
    date                     Date,
    session_count            UInt32,
    total_session_duration   UInt32,
    average_session_duration UInt32,
    page_views               UInt32,
    unique_pages_visited     UInt32,
    features_used            String CODEC(ZSTD(3)),
    engagement_score         Decimal(5, 2),
    retention_data           String CODEC(ZSTD(3)),
    conversion_data          String CODEC(ZSTD(3)),
    user_flow                String CODEC(ZSTD(3)),
    received_at              DateTime64(3, 'UTC'),
    schema_version           UInt8 DEFAULT 1,
    ingested_at              DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_engagement engagement_score TYPE minmax GRANULARITY 4
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(date)
ORDER BY (tenant_id, user_id, date)
SETTINGS non_replicated_deduplication_window = 10000;
