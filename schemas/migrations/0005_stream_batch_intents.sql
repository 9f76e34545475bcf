-- Durable batch intents of the stream processors (ADR 0004): written before a batch is inserted, so a
-- restarted worker re-forms exactly the batches that may have been inserted but not committed, and their
-- insert deduplication tokens make the repeat a no-op. Append-only; old intents expire.
CREATE TABLE IF NOT EXISTS stream_batch_intents
(
    consumer_group LowCardinality(String),
    topic          LowCardinality(String),
    partition      UInt32,
    first_offset   UInt64,
    last_offset    UInt64,
    created_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(created_at)
ORDER BY (consumer_group, topic, partition, first_offset)
TTL toDateTime(created_at) + INTERVAL 30 DAY;
