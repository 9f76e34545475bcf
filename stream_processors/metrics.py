"""Prometheus series of the stream processors (docs/operations.md lists them): what each partition batch did
(:class:`BatchMetrics`, fed by :class:`~stream_processors.pipeline.BatchWriter` in the Kafka workers and in
the embedded bus of ``analytics dev`` alike) and, for Kafka workers, the consumer side (assignment, lag,
commits, readiness: :mod:`stream_processors.operations`).

One :class:`WorkerMetrics` per process, on a registry of its own (``analytics dev`` serves it beside the
gateway's and the query API's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
FRESHNESS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
"""Gateway receipt → rows stored: sub-second on an idle pipeline, minutes while a backlog drains."""
SIZE_BUCKETS = (1, 10, 50, 100, 500, 1_000, 5_000, 10_000, 50_000, 100_000, 500_000)


@dataclass
class WorkerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.messages = Counter(
            "analytics_worker_messages", "Kafka messages handled", ["stream", "group"], registry=r
        )
        self.events = Counter(
            "analytics_worker_events",
            "Events handled: stored, repeat (a client id stored before), untracked (tracking declined)",
            ["stream", "group", "outcome"],
            registry=r,
        )
        self.dead_letters = Counter(
            "analytics_worker_dead_letters",
            "Dead letters by the step that refused them (decode, validate, store)",
            ["stream", "group", "step"],
            registry=r,
        )
        self.batch_messages = Histogram(
            "analytics_worker_batch_messages",
            "Messages per partition batch",
            ["stream", "group"],
            buckets=SIZE_BUCKETS,
            registry=r,
        )
        self.batch_events = Histogram(
            "analytics_worker_batch_events",
            "Events per partition batch",
            ["stream", "group"],
            buckets=SIZE_BUCKETS,
            registry=r,
        )
        self.batch_duration = Histogram(
            "analytics_worker_batch_duration_seconds",
            "One partition batch, decode to stored (ClickHouse retries included)",
            ["stream", "group"],
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.insert_duration = Histogram(
            "analytics_worker_insert_duration_seconds",
            "One ClickHouse insert (retries included)",
            ["table"],
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.insert_rows = Counter(
            "analytics_worker_insert_rows", "Rows inserted into ClickHouse", ["table"], registry=r
        )
        self.freshness = Histogram(
            "analytics_worker_freshness_seconds",
            "Gateway receipt (received_at) to rows stored, one observation per stored message",
            ["stream", "group"],
            buckets=FRESHNESS_BUCKETS,
            registry=r,
        )
        self.replayed_batches = Counter(
            "analytics_worker_replayed_batches",
            "Batches re-formed from open intents after a crash or a re-assignment",
            ["stream", "group"],
            registry=r,
        )
        # Kafka workers only (stream_processors.operations)
        self.consumer_lag = Gauge(
            "analytics_worker_consumer_lag_messages",
            "Messages not yet committed, per partition assigned to this process",
            ["group", "topic", "partition"],
            registry=r,
        )
        self.assigned_partitions = Gauge(
            "analytics_worker_assigned_partitions",
            "Partitions assigned to this process",
            ["group"],
            registry=r,
        )
        self.commit_duration = Histogram(
            "analytics_worker_commit_duration_seconds",
            "One offset commit",
            ["group"],
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.last_commit = Gauge(
            "analytics_worker_last_commit_timestamp_seconds",
            "Unix time of this process's last offset commit",
            ["group"],
            registry=r,
        )
        self.ready = Gauge(
            "analytics_worker_ready",
            "1 once the group's partitions are assigned and their open intents recovered",
            ["group"],
            registry=r,
        )

    def count_store_retries(self, retries: Callable[[], int]) -> None:
        """Expose ``retries()`` (the store's count of calls retried while it was unavailable) as
        ``analytics_worker_store_retries_total``, read at each scrape."""
        self.registry.register(_StoreRetries(retries))


class _StoreRetries(Collector):
    def __init__(self, retries: Callable[[], int]) -> None:
        self._retries = retries

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "analytics_worker_store_retries",
            "ClickHouse calls retried while it was unavailable",
            value=self._retries(),
        )
