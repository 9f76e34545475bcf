"""Prometheus metrics of the query API, on a registry of its own (it may share a process with the gateway)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class QueryMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "analytics_query_http_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "analytics_query_http_requests_in_flight", "HTTP requests being served", registry=self.registry
        )
        self.request_latency = Histogram(
            "analytics_query_http_request_duration_seconds",
            "HTTP request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.clickhouse_latency = Histogram(
            "analytics_query_clickhouse_duration_seconds",
            "Latency of one ClickHouse statement",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.admission_wait = Histogram(
            "analytics_query_admission_wait_seconds",
            "Time a dashboard-class computation waited for its turn (ANALYTICS_QUERY_CONCURRENT_READS)",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cache = Counter(
            "analytics_query_cache_lookups",
            "Result-cache lookups by outcome (hit, stale: answered while refreshed, miss)",
            ["outcome"],
            registry=self.registry,
        )
