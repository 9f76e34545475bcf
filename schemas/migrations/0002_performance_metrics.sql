-- Raw performance metrics / web vitals (product-analytics seed, table performance_metrics).
-- `page` is our addition (optional in the payload): per-page performance rollups need it.
-- CLS is DECIMAL(5,3) in the seed; Decimal(9,3) keeps 3 decimals and admits the accepted range 0..100.
CREATE TABLE IF NOT EXISTS performance_metrics
(
    tenant_id                LowCardinality(String),
    id                       UUID,
    user_id                  String,
    session_id               String,
    timestamp                DateTime64(3, 'UTC'),
    page                     String,
    page_load_time           UInt32,
    time_to_first_byte       UInt32,
    first_contentful_paint   UInt32,
    largest_contentful_paint UInt32,
    cumulative_layout_shift  Decimal(9, 3),
    first_input_delay        UInt32,
    total_blocking_time      UInt32,
    memory_usage             String CODEC(ZSTD(3)),
    network_info             String CODEC(ZSTD(3)),
    device_info              String CODEC(ZSTD(3)),
    custom_metrics           String CODEC(ZSTD(3)),
    sent_at                  Nullable(DateTime64(3, 'UTC')),
    received_at              DateTime64(3, 'UTC'),
    time_clamped             Bool DEFAULT false,
    schema_version           UInt8 DEFAULT 1,
    ingested_at              DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_performance_score (page_load_time, first_contentful_paint) TYPE minmax GRANULARITY 4,
    INDEX idx_session session_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (tenant_id, user_id, timestamp, id)
SETTINGS non_replicated_deduplication_window = 10000;
