"""Settings of the stream-processor workers (``ANALYTICS_WORKER_*`` and the shared ``ANALYTICS_*``)."""

from __future__ import annotations

from pydantic import Field

from plumbing.settings import CommonSettings, ZoneLookup


class WorkerSettings(CommonSettings):
    worker_group_prefix: str = "analytics-"
    """Consumer groups are ``<prefix><agent group>``: ``analytics-raw``, ``analytics-rollups``."""
    worker_batch_max_messages: int = 5000
    """Kafka messages per batch (each carries up to a request's events for one partition)."""
    worker_batch_within_s: float = 1.0
    """Longest wait before a partial batch is written."""
    worker_store_connections: int = Field(default=2, ge=1, le=16)
    """ClickHouse connections of one worker process: its partitions' batches run concurrently, and with
    two, one batch's rows are inserted while another's intent or ledger lookup runs (ADR 0021)."""
    worker_data_dir: str = "var/faust"
    """Where each worker process keeps Faust's local data directory, one of its own (it keeps no state we
    rely on: offsets live in Kafka)."""
    worker_zone_refresh_s: float = 30.0
    """How often workers re-read tenant time zones and tracking preferences saved through the config API."""
    worker_metrics_host: str = "127.0.0.1"
    """Where a worker process serves ``/healthz``, ``/readyz``, ``/metrics`` (``0.0.0.0`` in containers)."""
    worker_metrics_port: int = 9102
    """Their port; 0 picks a free one (logged), for several workers on one host."""
    embedded_gather_wait_s: float = 0.1
    """``analytics dev``: how long a commit may wait for as many requests as recent commits held.

    Only waited while fewer are queued, so a lone client never waits; 0 commits whatever is queued.
    """


__all__ = ["WorkerSettings", "ZoneLookup"]
