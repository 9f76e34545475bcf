"""Storing a query oracle dataset (:mod:`tests.support.query_oracle`) the way the workers do: decoded,
mapped to raw and feed rows, inserted with deduplication tokens."""

from __future__ import annotations

from plumbing.clickhouse import open_client
from plumbing.settings import ZoneLookup
from plumbing.storage import Storage
from schemas.messages import encode_batch
from schemas.rows import feed_rows, raw_rows
from schemas.topics import Stream
from stream_processors.pipeline import Delivery, decode
from tests.support import query_oracle as oracle


async def load(
    url: str, database: str, data: oracle.Dataset, zones: ZoneLookup | None = None, label: str = "load"
) -> None:
    """Through the processing steps: decode → raw and feed rows (buckets in ``zones``) → inserts, each
    with a deduplication token starting with ``label`` (a second load into one database needs its own)."""
    storage = Storage(lambda: open_client(url, database))
    zones = zones or ZoneLookup("UTC", {oracle.TENANT: oracle.ZONE_NAME})
    streams = {
        Stream.EVENTS: data.events,
        Stream.PERFORMANCE: data.performance,
        Stream.USAGE: data.usage,
        Stream.ACTIVITIES: data.activities,
    }
    for stream, rows in streams.items():
        for offset in range(0, len(rows), 700):
            chunk = rows[offset : offset + 700]
            events, letters = decode(stream, [Delivery("t", 0, offset, encode_batch(chunk))])
            assert not letters
            for table in [*raw_rows(stream, events), *feed_rows(stream, events, zones)]:
                await storage.insert(table, f"{label}/{stream.value}/{offset}/{table.table}")
    storage.close()
