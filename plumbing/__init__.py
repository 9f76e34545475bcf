"""What every service uses and no service owns: settings, the ClickHouse client and its retrying store,
the migration runner, Kafka admin and lag, the retry policy and periodic snapshots, GC tuning, bounded
shutdown and serving, HTTP errors, responses, middleware and OpenAPI completion, tenant-settings table
access and the tenants' time zones. Imports only :mod:`schemas` of ours (ADR 0014)."""
