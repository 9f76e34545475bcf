-- Who read another user's data, exported or deleted it: GET /analytics/audit (admins). Append-only.
CREATE TABLE IF NOT EXISTS audit_log
(
    tenant_id     LowCardinality(String),
    at            DateTime64(3, 'UTC'),
    actor         String,
    actor_roles   Array(LowCardinality(String)),
    action        LowCardinality(String),
    target_user   String,
    resource      String,
    request_id    String,
    outcome       LowCardinality(String),
    detail        String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (tenant_id, at)
TTL toDateTime(at) + INTERVAL 2 YEAR;
