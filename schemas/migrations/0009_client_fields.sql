-- Privacy at the gateway (schemas/privacy.py): the browser, OS and device parsed from an event's user agent,
-- kept even when the tenant drops the raw string; '' where no user agent was parsed (events from before,
-- or without one). Only analytics_events carries user agents. Rollups are unchanged.
ALTER TABLE analytics_events
    ADD COLUMN IF NOT EXISTS browser LowCardinality(String) DEFAULT '' AFTER ip_address,
    ADD COLUMN IF NOT EXISTS browser_version LowCardinality(String) DEFAULT '' AFTER browser,
    ADD COLUMN IF NOT EXISTS os LowCardinality(String) DEFAULT '' AFTER browser_version,
    ADD COLUMN IF NOT EXISTS os_version LowCardinality(String) DEFAULT '' AFTER os,
    ADD COLUMN IF NOT EXISTS device LowCardinality(String) DEFAULT '' AFTER os_version;

-- Per-tenant choice to drop the raw user agent once parsed; rows saved before keep it.
ALTER TABLE tenant_settings
    ADD COLUMN IF NOT EXISTS user_agent_handling Enum8('keep' = 1, 'drop' = 2) DEFAULT 'keep' AFTER ip_handling;
