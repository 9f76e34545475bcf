-- Per-tenant settings and per-user tracking preferences, changed through PUT /analytics/config/{user_id};
-- and the rollup rebuilds a settings change (a new time zone) schedules. Latest row per key wins.
CREATE TABLE IF NOT EXISTS tenant_settings
(
    tenant_id                    LowCardinality(String),
    time_zone                    String,
    ip_handling                  Enum8('store' = 1, 'truncate' = 2, 'hash' = 3, 'drop' = 4),
    raw_retention_days           UInt32,
    daily_rollup_retention_days  UInt32,
    coarse_rollup_retention_days UInt32,
    updated_at                   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY tenant_id;

CREATE TABLE IF NOT EXISTS user_preferences
(
    tenant_id        LowCardinality(String),
    user_id          String,
    tracking_enabled Bool,
    tracked_streams  Array(LowCardinality(String)),
    updated_at       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (tenant_id, user_id);

CREATE TABLE IF NOT EXISTS rollup_rebuilds
(
    tenant_id    LowCardinality(String),
    id           UUID,
    reason       String,
    first_day    Date,
    last_day     Date,
    status       Enum8('pending' = 1, 'running' = 2, 'done' = 3, 'failed' = 4),
    detail       String,
    requested_at DateTime64(3, 'UTC'),
    updated_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (tenant_id, id);
