-- Retention shortenings scheduled by PUT /analytics/config (ADR 0012, schemas/retention_schedule.py): one
-- row per change that shortened any tier of a tenant's retention. The replaced setting keeps protecting the
-- tenant's data until effective_at (the change plus ANALYTICS_RETENTION_GRACE_DAYS); the retention job
-- applies, tier by tier, the longest of the stored setting and every replaced one not yet effective.
-- Rows are never updated; they stay as the record of what was shortened, when and to what.
CREATE TABLE IF NOT EXISTS retention_shortenings
(
    tenant_id                            LowCardinality(String),
    changed_at                           DateTime64(3, 'UTC'),
    effective_at                         DateTime64(3, 'UTC'),
    replaced_raw_days                    UInt32,
    replaced_daily_rollup_days           UInt32,
    replaced_weekly_monthly_rollup_days  UInt32,
    requested_raw_days                   UInt32,
    requested_daily_rollup_days          UInt32,
    requested_weekly_monthly_rollup_days UInt32
)
ENGINE = MergeTree
ORDER BY (tenant_id, changed_at);
