-- GDPR deletions (DELETE /analytics/privacy/users/{user_id}, stream_processors/erasure.py). A job's new state
-- is a newer row of the same id (latest updated_at wins, read with FINAL); rows are kept as the record of
-- what was erased, when and at whose request.
CREATE TABLE IF NOT EXISTS privacy_jobs
(
    tenant_id    LowCardinality(String),
    id           UUID,
    user_id      String,
    kind         Enum8('delete' = 1),
    status       Enum8('pending' = 1, 'running' = 2, 'done' = 3, 'failed' = 4),
    requested_by String,
    requested_at DateTime64(3, 'UTC'),
    updated_at   DateTime64(3, 'UTC'),
    raw_rows     UInt64,
    rollup_rows  UInt64,
    detail       String
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (tenant_id, id);

-- Workers drop the events of a user being erased (received up to `until`; every event while `until` is
-- NULL, i.e. until the deletion completed), so events still in flight in Kafka do not come back.
-- One row per user: the latest deletion's.
CREATE TABLE IF NOT EXISTS user_suppressions
(
    tenant_id  LowCardinality(String),
    user_id    String,
    job_id     UUID,
    since      DateTime64(3, 'UTC'),
    until      Nullable(DateTime64(3, 'UTC')),
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (tenant_id, user_id);
