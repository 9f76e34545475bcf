"""Contracts between the parts, and nothing else: HTTP payloads, Kafka messages, topics, enums, envelopes,
rollup declarations, table rows and columns, the transport interface, tenant-settings models, migrations
and examples. No I/O, and no imports of our other packages: every layer above builds on these (ADR 0014).
"""
