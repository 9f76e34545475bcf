"""What an operator watches on a Kafka worker process: ``/healthz``, ``/readyz`` and ``/metrics`` on its own
port (``ANALYTICS_WORKER_METRICS_HOST`` / ``_PORT``), served by :class:`OperationsServer` beside the Faust
apps, and the consumer-side series of each agent group (:class:`GroupWatch`): partitions assigned, consumer
lag, offset commits, readiness.

- ``/healthz``: the process runs (200).
- ``/readyz``: 200 once every agent group has its partitions assigned (after a rebalance; none at all is a
  valid assignment when there are more workers than partitions) and no partition is re-forming open
  intents; else 503 with the groups not ready.
- ``/metrics``: the process's :class:`~stream_processors.metrics.WorkerMetrics`; consumer lag is measured
  at each scrape (committed offsets of the group from the broker, log-end offsets from the consumer) for
  the partitions assigned to this process, so a group's lag is the sum over its processes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import faust
from aiohttp import web
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faust.sensors import Monitor
from mode import Service
from prometheus_client import CONTENT_TYPE_LATEST

from plumbing.kafka_lag import uncommitted
from plumbing.metrics_exposition import exposition
from stream_processors.metrics import WorkerMetrics
from stream_processors.pipeline import ExactlyOncePartitions

log = logging.getLogger(__name__)

LAG_TIMEOUT_S = 3.0
"""A scrape waits this long for the broker's committed offsets; past it the previous lag is kept."""


class CommitMonitor(Monitor):
    """Faust's monitor, also timing each offset commit and noting when offsets were last committed."""

    def __init__(self, metrics: WorkerMetrics, group: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._duration = metrics.commit_duration.labels(group)
        self._last_commit = metrics.last_commit.labels(group)

    def on_commit_initiated(self, consumer: Any) -> Any:
        super().on_commit_initiated(consumer)
        return time.perf_counter()

    def on_commit_completed(self, consumer: Any, state: Any) -> None:
        super().on_commit_completed(consumer, state)
        if isinstance(state, float):
            self._duration.observe(time.perf_counter() - state)

    def on_tp_commit(self, tp_offsets: Any) -> None:
        """Offsets were committed (Faust calls this only when some moved)."""
        super().on_tp_commit(tp_offsets)
        self._last_commit.set_to_current_time()


class GroupWatch:
    """One agent group's app as the operations endpoints see it."""

    def __init__(
        self,
        app: faust.App,
        group: str,
        consumer_group: str,
        handlers: Sequence[ExactlyOncePartitions],
        metrics: WorkerMetrics,
    ) -> None:
        self.app = app
        self.group = group
        self.consumer_group = consumer_group
        self._handlers = list(handlers)
        self._metrics = metrics
        self._assigned = False
        self._lagging: set[tuple[str, int]] = set()
        app.on_partitions_assigned.connect(self._on_assigned)
        app.on_partitions_revoked.connect(self._on_revoked)
        metrics.ready.labels(group).set(0)
        metrics.assigned_partitions.labels(group).set(0)

    async def _on_assigned(self, sender: Any, /, *args: Any, **kwargs: Any) -> None:
        self._assigned = True

    async def _on_revoked(self, sender: Any, /, *args: Any, **kwargs: Any) -> None:
        self._assigned = False

    @property
    def ready(self) -> bool:
        return self._assigned and not any(h.recovering for h in self._handlers)

    def assignment(self) -> set[TopicPartition]:
        if not self._assigned:
            return set()
        try:
            return {TopicPartition(tp.topic, tp.partition) for tp in self.app.consumer.assignment()}
        except Exception:  # noqa: BLE001 - the consumer is not (or no longer) running
            return set()

    async def refresh(self, admin: AIOKafkaAdminClient | None) -> None:
        """Readiness, assignment and (with ``admin``) the lag of the assigned partitions, into the metrics."""
        m = self._metrics
        m.ready.labels(self.group).set(1 if self.ready else 0)
        assigned = self.assignment()
        m.assigned_partitions.labels(self.group).set(len(assigned))
        if admin is None:
            return
        keys = {(tp.topic, tp.partition) for tp in assigned}
        for topic, partition in self._lagging - keys:  # partitions this process no longer has
            m.consumer_lag.remove(self.group, topic, str(partition))
        self._lagging = keys
        if not assigned:
            return
        committed = await admin.list_consumer_group_offsets(self.consumer_group, partitions=list(assigned))
        ends = await self.app.consumer.highwaters(*assigned)
        for tp in assigned:
            end = ends.get(tp)
            if end is not None:
                m.consumer_lag.labels(self.group, tp.topic, str(tp.partition)).set(
                    uncommitted(end, committed.get(tp))
                )


class OperationsServer(Service):
    """``/healthz``, ``/readyz`` and ``/metrics`` of a worker process, started and stopped with its Faust
    apps (the worker runs it as one more service)."""

    def __init__(
        self,
        groups: Sequence[GroupWatch],
        metrics: WorkerMetrics,
        host: str,
        port: int,
        bootstrap: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._groups = list(groups)
        self._metrics = metrics
        self._host = host
        self._port = port
        self._bootstrap = bootstrap
        self._runner: web.AppRunner | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self.bound_port: int | None = None

    async def on_start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._scrape)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []  # noqa: SLF001 - the bound port of port 0
        self.bound_port = sockets[0].getsockname()[1] if sockets else self._port
        log.info("worker operations endpoints on http://%s:%s", self._host, self.bound_port)

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._admin is not None:
            await self._admin.close()

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        waiting = [g.group for g in self._groups if not g.ready]
        if waiting:
            reason = f"agent groups not ready (assignment or recovery of open intents): {', '.join(waiting)}"
            return web.json_response({"status": "not ready", "reason": reason}, status=503)
        return web.json_response({"status": "ready"})

    async def _scrape(self, request: web.Request) -> web.Response:
        admin = await self._admin_client()
        for group in self._groups:
            try:
                async with asyncio.timeout(LAG_TIMEOUT_S):
                    await group.refresh(admin)
            except Exception as exc:  # noqa: BLE001 - a scrape answers with what it has
                log.warning("consumer lag of %s not refreshed: %s: %s", group.group, type(exc).__name__, exc)
        return web.Response(
            body=exposition(self._metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _admin_client(self) -> AIOKafkaAdminClient | None:
        if self._admin is None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
            try:
                async with asyncio.timeout(LAG_TIMEOUT_S):
                    await admin.start()
            except Exception as exc:  # noqa: BLE001 - lag stays unmeasured until the broker answers
                log.warning("consumer lag unavailable: %s: %s", type(exc).__name__, exc)
                await admin.close()
                return None
            self._admin = admin
        return self._admin
