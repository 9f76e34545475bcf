"""The transport between the gateway and the processing steps: what the gateway hands its sink (Kafka in
production, the in-process bus of ``analytics dev``), and how a sink says it cannot take events now.

Contract of :meth:`EventSink.publish`: it returns only after every record was durably acknowledged
(Kafka: ``acks=all`` with an idempotent producer), and raises :class:`SinkUnavailable` otherwise — broker
unreachable, acknowledgement not in time, or the producer's buffer full. A request whose publish raised
must not be reported as accepted. Records of a failed publish may still reach the topic later (they were
already queued); clients retry with the same event ids (or ``Idempotency-Key``) and downstream
deduplication absorbs the repeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

Record = tuple[int, bytes, bytes]
"""(partition, key, value) of one message."""

HEADER_REQUEST_ID = "request_id"
"""The message header carrying the id of the gateway request that published it (``X-Request-ID``), so the
workers' log lines of the batch that carries it name the request."""


class SinkUnavailable(Exception):
    """The sink cannot take events now; answer 503 and let the client retry."""


class EventSink(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def ready(self) -> bool: ...
    async def partitions(self, topic: str) -> int:
        """Partition count of ``topic``; raises :class:`SinkUnavailable` when it cannot be known."""
        ...

    async def publish(
        self, topic: str, records: Sequence[Record], headers: list[tuple[str, bytes]]
    ) -> None: ...
