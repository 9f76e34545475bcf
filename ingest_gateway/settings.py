"""Settings of the ingestion gateway (``ANALYTICS_GATEWAY_*`` and the shared ``ANALYTICS_*``)."""

from __future__ import annotations

from typing import Literal

from plumbing.settings import CommonSettings


class GatewaySettings(CommonSettings):
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    gateway_workers: int = 1
    """uvicorn worker processes; one per core is the usual choice on a dedicated host."""
    gateway_max_batch_events: int = 1000
    """Most events in one batch request (more → 413)."""
    gateway_max_body_bytes: int = 5 * 1024 * 1024
    """Largest request body after gzip decompression (more → 413)."""
    gateway_produce_timeout_s: float = 10.0
    """How long a request waits for the brokers' acknowledgements before answering 503."""
    gateway_retry_after_s: int = 5
    """``Retry-After`` sent with 503 answers."""
    gateway_api_key_refresh_s: float = 5.0
    """How often each gateway process re-reads ingestion API keys: a revoked key stops within this."""
    kafka_linger_ms: int = 5
    """How long the producer waits for more records to fill a batch before sending it."""
    kafka_compression: Literal["none", "gzip", "lz4", "zstd", "snappy"] = "lz4"
    """Compression of the produced batches."""
    kafka_max_batch_bytes: int = 512 * 1024
    """Most bytes the producer buffers per partition (one batch); a send waits while it is full (aiokafka's
    ``max_batch_size``)."""
    kafka_client_id: str = "ingest-gateway"
    """The producer's client id, as the brokers' logs, metrics and quotas name it."""
