"""Items of the traffic model packed into HTTP requests: events in batches, other streams one per request."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import orjson

from loadgen.traffic import Item
from schemas.payloads import BATCH_ROUTE
from schemas.payloads import INGESTION_ROUTES as ROUTES
from schemas.topics import Stream


@dataclass(frozen=True, slots=True)
class Request:
    stream: Stream
    path: str
    body: bytes
    count: int
    """Events carried."""
    batch: bool


def _encode(payload: object, compress: bool) -> bytes:
    raw = orjson.dumps(payload)
    return gzip.compress(raw, compresslevel=5) if compress else raw


def pack(items: Iterable[Item], batch: int, compress: bool) -> Iterator[Request]:
    """Requests carrying ``items`` in order; a pending partial batch is sent when ``items`` ends.

    ``batch`` > 1 groups events into ``/analytics/events/batch`` bodies of that many; 1 posts each alone.
    """
    pending: list[object] = []
    for item in items:
        if item.stream is not Stream.EVENTS or batch == 1:
            yield Request(item.stream, ROUTES[item.stream], _encode(item.body, compress), 1, False)
            continue
        pending.append(item.body)
        if len(pending) >= batch:
            yield Request(
                Stream.EVENTS, BATCH_ROUTE, _encode({"events": pending}, compress), len(pending), True
            )
            pending = []
    if pending:
        yield Request(Stream.EVENTS, BATCH_ROUTE, _encode({"events": pending}, compress), len(pending), True)
