"""The Kafka implementation of :class:`schemas.transport.EventSink`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from ingest_gateway.settings import GatewaySettings
from plumbing.retry import retry_until_done
from plumbing.shutdown import ShutdownSettings
from schemas.transport import Record, SinkUnavailable

log = logging.getLogger(__name__)


class KafkaEventSink:
    """An idempotent aiokafka producer that (re)connects in the background.

    The gateway starts even when Kafka is down: it answers 503 until the producer has connected, then
    aiokafka reconnects by itself after broker restarts.
    """

    def __init__(self, settings: GatewaySettings, shutdown: ShutdownSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._connector: asyncio.Task[None] | None = None
        self._stop_s = shutdown.flush_s

    def _new_producer(self) -> AIOKafkaProducer:
        s = self._settings
        return AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap,
            client_id=s.kafka_client_id,
            acks="all",
            enable_idempotence=True,
            compression_type=None if s.kafka_compression == "none" else s.kafka_compression,
            linger_ms=s.kafka_linger_ms,
            max_batch_size=s.kafka_max_batch_bytes,
            request_timeout_ms=int(s.gateway_produce_timeout_s * 1000),
        )

    async def start(self) -> None:
        self._connector = asyncio.create_task(self._connect_until_started(), name="kafka-connect")

    async def _connect_until_started(self) -> None:
        """Start a producer, retried with the shared backoff (capped at ``ANALYTICS_RETRY_MAX_S``) until
        the brokers answer; :meth:`stop` cancels it."""

        async def connect() -> AIOKafkaProducer:
            producer = self._new_producer()
            try:
                await producer.start()
            except Exception:  # aiokafka raises several types while brokers are unreachable
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            return producer

        def retrying(exc: Exception, wait_s: float) -> None:
            log.warning("Kafka producer cannot connect yet (%s); retrying in %.1fs", exc, wait_s)

        self._producer = await retry_until_done(connect, self._settings.retry_max_s, retrying)
        log.info("Kafka producer connected to %s", self._settings.kafka_bootstrap)

    async def stop(self) -> None:
        """Stop accepting, flush what is queued, close, all within the flush share of
        ``ANALYTICS_SHUTDOWN_TIMEOUT_S`` (:attr:`ShutdownSettings.flush_s`), so a broker that went down
        cannot hold the shutdown. Records still queued then are dropped: their requests were not answered
        200 (a publish returns only once its records are acknowledged), so nothing acknowledged is lost."""
        if self._connector is not None and not self._connector.done():
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            async with asyncio.timeout(self._stop_s):
                await producer.flush()
                await producer.stop()
        except TimeoutError:
            log.warning(
                "Kafka did not take the queued records within %.1fs; stopping without them (their "
                "requests were not acknowledged)",
                self._stop_s,
            )

    async def ready(self) -> bool:
        producer = self._producer
        if producer is None:
            return False
        try:
            async with asyncio.timeout(2.0):
                await producer.client.fetch_all_metadata()
        except (KafkaError, TimeoutError, OSError):
            return False
        return True

    async def partitions(self, topic: str) -> int:
        producer = self._producer
        if producer is None:
            raise SinkUnavailable("not connected to Kafka yet")
        known = producer.client.cluster.partitions_for_topic(topic)
        if known:
            return len(known)
        try:
            async with asyncio.timeout(self._settings.gateway_produce_timeout_s):
                return len(await producer.partitions_for(topic))
        except (TimeoutError, KafkaError) as exc:
            raise SinkUnavailable(f"no metadata for topic {topic}") from exc

    async def publish(self, topic: str, records: Sequence[Record], headers: list[tuple[str, bytes]]) -> None:
        producer = self._producer
        if producer is None:
            raise SinkUnavailable("not connected to Kafka yet")
        try:
            async with asyncio.timeout(self._settings.gateway_produce_timeout_s):
                pending = [
                    await producer.send(topic, value, key=key, partition=partition, headers=headers)
                    for partition, key, value in records
                ]
                await asyncio.gather(*pending)
        except TimeoutError as exc:
            raise SinkUnavailable("Kafka did not acknowledge in time") from exc
        except KafkaError as exc:
            raise SinkUnavailable(f"Kafka refused the events: {exc.__class__.__name__}") from exc
