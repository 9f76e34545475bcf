"""Settings of the query API (``ANALYTICS_QUERY_*``, plus the shared ``ANALYTICS_*``)."""

from __future__ import annotations

from plumbing.settings import CommonSettings


class QuerySettings(CommonSettings):
    query_host: str = "127.0.0.1"
    query_port: int = 8001
    query_pool_size: int = 4
    """ClickHouse clients per process: how many statements one process runs at once."""
    query_concurrent_reads: int = 0
    """Dashboard-class computations (dashboard, insights, trends, overviews, summaries: several statements
    each) run at once; later ones wait in arrival order. 0: the CPUs available to the process with the
    embedded engine (its statements run on them), ``query_pool_size`` with a server."""
    query_cache_ttl_s: float = 5.0
    """How long a dashboard-class result is reused (0 disables the cache)."""
    query_cache_entries: int = 2048
    """Most results kept in the cache at once."""
    query_tenant_cache_ttl_s: float = 60.0
    """How long tenant-wide aggregates (feature users, users affected by a page issue) are shared by every
    dashboard of the tenant before they are computed again."""
    query_tenant_cache_stale_s: float = 300.0
    """How long past that a tenant-wide aggregate is still answered while it is recomputed in the
    background, so no dashboard waits for the tenant-wide read except the first (0: wait for it)."""
    query_catalog_ttl_s: float = 5.0
    """How long a tenant's course catalog is reused by the LMS reads: their access checks (is there such a
    course or institute, which courses a teacher teaches) and what their figures take from it (the
    dashboard's course list, the courses' assessments and institutes). 0: read it every time."""
    query_catalog_stale_s: float = 5.0
    """How long past that the catalog is still used while it is read again in the background, so requests
    do not wait for the read: a catalog change reaches the reads within the TTL, this and one read (0:
    wait for the read)."""
    query_retry_after_s: int = 5
    """``Retry-After`` of the 503 answered while ClickHouse is unreachable."""
    query_max_body_bytes: int = 64 * 1024
    """Largest request body (configuration updates are a few hundred bytes); more → 413."""
