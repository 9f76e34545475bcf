"""The Faust applications: one per agent group (its own consumer group), one agent per stream.

Each agent: ``noack_take`` a chunk → :meth:`ExactlyOncePartitions.handle` (decode, transform, intent,
insert, dead letters) → acknowledge the chunk. ``concurrency=1`` (with more, Faust can commit past an
in-flight message). On revocation Faust waits until every taken message is acknowledged, so a batch is
never written by a worker that lost its partition after another one took over.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import faust

from plumbing.storage import Storage
from plumbing.zones import stored_zones_refresher
from privacy.tracking import TrackingFilter, tracking_refresher
from schemas.topics import Stream, registry
from stream_processors.dead_letters import KafkaDeadLetters
from stream_processors.intents import IntentLog
from stream_processors.kafka_reader import KafkaRangeReader
from stream_processors.metrics import WorkerMetrics
from stream_processors.operations import CommitMonitor
from stream_processors.pipeline import AgentGroup, BatchWriter, Delivery, ExactlyOncePartitions
from stream_processors.settings import WorkerSettings


def consumer_group(settings: WorkerSettings, group: AgentGroup) -> str:
    return f"{settings.worker_group_prefix}{group.value}"


def process_data_dir(settings: WorkerSettings, app_id: str) -> Path:
    """A Faust data directory of this process alone, removed when the process exits normally.

    Faust keeps nothing there that we rely on (offsets live in Kafka, intents in ClickHouse), but two
    processes of one group on one host sharing ``<worker_data_dir>/<group>`` raced on creating it at start
    (a worker restarted while another was starting failed with ``FileExistsError``/``FileNotFoundError``).
    A SIGKILLed process leaves its (empty) directory behind."""
    base = Path(settings.worker_data_dir).resolve()  # absolute: whatever the process's directory later
    base.mkdir(parents=True, exist_ok=True)
    datadir = Path(tempfile.mkdtemp(prefix=f"{app_id}.", dir=base))
    atexit.register(shutil.rmtree, datadir, ignore_errors=True)
    return datadir


def build_app(
    settings: WorkerSettings,
    group: AgentGroup,
    storage: Storage,
    dead_letters: KafkaDeadLetters,
    metrics: WorkerMetrics | None = None,
) -> tuple[faust.App, dict[Stream, ExactlyOncePartitions]]:
    """A Faust app for ``group`` with an agent per stream; returns the app and its partition handlers.
    ``metrics``: where its batches and offset commits are counted (a fresh registry if not given)."""
    metrics = metrics or WorkerMetrics()
    app_id = consumer_group(settings, group)
    datadir = process_data_dir(settings, app_id)
    app = faust.App(
        app_id,
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap.split(",")],
        value_serializer="raw",
        key_serializer="raw",
        topic_replication_factor=1,
        topic_disable_leader=True,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=max(4096, settings.worker_batch_max_messages * 2),
        datadir=str(datadir),
        monitor=CommitMonitor(metrics, group.value),
    )
    intents = IntentLog(storage)
    reader = KafkaRangeReader(settings.kafka_bootstrap)
    zones = settings.zone_lookup()
    tracking = TrackingFilter()
    handlers: dict[Stream, ExactlyOncePartitions] = {}
    for stream, spec in registry(settings.topic_prefix).items():
        writer = BatchWriter(
            stream, group, app_id, storage, intents, dead_letters, zones, tracking, metrics=metrics
        )
        handler = ExactlyOncePartitions(writer, intents, reader)
        handlers[stream] = handler
        topic = app.topic(spec.name, value_serializer="raw", key_serializer="raw")
        app.agent(topic, name=f"{group.value}.{stream.value}", concurrency=1)(
            _agent(handler, settings.worker_batch_max_messages, settings.worker_batch_within_s)
        )

    async def _forget(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        revoked: Iterable[Any] = args[0] if args else kwargs.get("revoked", ())
        keys = {(tp.topic, tp.partition) for tp in revoked}
        for handler in handlers.values():
            handler.forget(keys)

    app.on_partitions_revoked.connect(_forget)

    # zones, tracking preferences and suppressions saved through the config API: read once the app has
    # started, then every ANALYTICS_WORKER_ZONE_REFRESH_S; Faust cancels its tasks when the app stops
    every = settings.worker_zone_refresh_s
    for refresher in (
        stored_zones_refresher(storage, zones, every),
        tracking_refresher(storage, tracking, every),
    ):
        app.task(refresher.run)

    return app, handlers


def _delivery(message: Any) -> Delivery:
    """Faust's message as a :class:`Delivery` (its headers are a list of pairs or a mapping)."""
    headers = message.headers or ()
    pairs = headers.items() if hasattr(headers, "items") else headers
    return Delivery(
        message.topic,
        message.partition,
        message.offset,
        message.value,
        key=message.key,
        headers={str(k): bytes(v) for k, v in pairs if v is not None},
    )


def _agent(handler: ExactlyOncePartitions, max_messages: int, within_s: float) -> Any:
    async def process(stream: Any) -> None:
        async for events in stream.noack_take(max_messages, within=within_s):
            await handler.handle([_delivery(e.message) for e in events])
            for event in events:
                await stream.ack(event)

    return process
