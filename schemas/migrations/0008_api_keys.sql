-- Per-tenant ingestion API keys (`analytics api-keys`). Only sha256(secret) is stored. A revoke is a newer
-- row of the same key_id (latest updated_at wins, read with FINAL), so every gateway process sees it on its
-- next refresh; rows are never deleted, so revoked keys stay listed for auditing.
CREATE TABLE IF NOT EXISTS api_keys
(
    key_id      String,
    tenant_id   LowCardinality(String),
    name        String,
    secret_hash String,
    created_at  DateTime64(3, 'UTC'),
    revoked_at  Nullable(DateTime64(3, 'UTC')),
    updated_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY key_id;
