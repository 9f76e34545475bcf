"""Contracts between the parts: HTTP payloads, Kafka messages, ClickHouse tables, rollups, and the shared
plumbing that every service opens them with (settings, storage client, migrations, topic registry)."""
