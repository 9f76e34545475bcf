-- Event ids chosen by clients (an `id` field or an Idempotency-Key), first delivery of each per consumer
-- group (ADR 0013): a retried request whose events reached the topic twice is stored and counted once.
-- `source` names the first delivery (batch and offset); a re-formed batch finds its own rows and keeps
-- its events. Ids are remembered for the deduplication window (7 days after receipt; readers also
-- filter on it, so the window is exact whatever TTL merges have done).
CREATE TABLE IF NOT EXISTS event_id_ledger
(
    consumer_group LowCardinality(String),
    tenant_id      String,
    id             UUID,
    source         String,
    received_at    DateTime64(3, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toDate(received_at)
ORDER BY (consumer_group, id)
TTL toDateTime(received_at) + INTERVAL 8 DAY
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

-- The ids a ledger lookup asks about, sent as rows (a query parameter of tens of thousands of ids costs
-- ClickHouse far more to parse than an insert of them): one `lookup` per question, gone after an hour.
CREATE TABLE IF NOT EXISTS event_id_lookups
(
    lookup String,
    id     UUID,
    at     DateTime DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY toStartOfHour(at)
ORDER BY lookup
TTL at + INTERVAL 1 HOUR
SETTINGS ttl_only_drop_parts = 1;

-- Dead letters of the embedded mode (`analytics dev`), which has no Kafka dead-letter topics: the same
-- fields as the headers of a letter on Kafka.
CREATE TABLE IF NOT EXISTS dead_letters
(
    letter_id     String,
    failed_at     DateTime64(3, 'UTC'),
    step          LowCardinality(String),
    consumer_group LowCardinality(String),
    error         String,
    topic         LowCardinality(String),
    partition     UInt32,
    offset        UInt64,
    key           String,
    stored_tables Array(String),
    value         String
)
ENGINE = ReplacingMergeTree(failed_at)
ORDER BY (topic, letter_id)
TTL toDateTime(failed_at) + INTERVAL 30 DAY;
