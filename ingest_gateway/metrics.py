"""Prometheus metrics of the gateway, on a registry of its own so several apps can live in one process; with
several worker processes they are summed over all of them (:mod:`plumbing.metrics_exposition`). Names:
docs/operations.md."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class GatewayMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "analytics_gateway_http_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "analytics_gateway_http_requests_in_flight",
            "HTTP requests being served",
            registry=self.registry,
            multiprocess_mode="livesum",  # several worker processes: the sum over the live ones
        )
        self.request_latency = Histogram(
            "analytics_gateway_http_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.events_accepted = Counter(
            "analytics_gateway_events_accepted",
            "Events acknowledged by Kafka",
            ["stream"],
            registry=self.registry,
        )
        self.events_rejected = Counter(
            "analytics_gateway_events_rejected",
            "Events refused",
            ["stream", "reason"],
            registry=self.registry,
        )
        self.produce_latency = Histogram(
            "analytics_gateway_produce_duration_seconds",
            "Time from produce to acknowledgement of one request's events",
            ["stream"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
