"""Items of the traffic model packed into HTTP requests: events and the learning platform's streams in
batches, the other product streams one per request."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import orjson

from loadgen.traffic import Item
from schemas.lms_payloads import LMS_ROUTES
from schemas.payloads import BATCH_ROUTE, INGESTION_ROUTES
from schemas.topics import LMS_STREAMS, Stream

ROUTES: dict[Stream, str] = {**INGESTION_ROUTES, **LMS_ROUTES}
"""The single-item route of every stream."""
BATCH_ROUTES: dict[Stream, str] = {
    Stream.EVENTS: BATCH_ROUTE,
    **{stream: f"{LMS_ROUTES[stream]}/batch" for stream in LMS_STREAMS},
}
"""The streams posted in batches (``{"events": [...]}``) and their batch routes."""
STALE_BATCHES = 4
"""A partial batch is sent once this many batches' worth of other items went by since its first item, so a
rare stream's items do not wait for the end of an endless run."""


@dataclass(frozen=True, slots=True)
class Request:
    stream: Stream
    path: str
    body: bytes
    count: int
    """Events carried."""
    batch: bool
    repeats: int = 0
    """Items carrying a client ``id`` an earlier item of the run carried (a deliberate retry)."""


def _encode(payload: object, compress: bool) -> bytes:
    raw = orjson.dumps(payload)
    return gzip.compress(raw, compresslevel=5) if compress else raw


class _Pending:
    __slots__ = ("bodies", "repeats", "since")

    def __init__(self, since: int) -> None:
        self.bodies: list[object] = []
        self.repeats = 0
        self.since = since


def pack(items: Iterable[Item], batch: int, compress: bool) -> Iterator[Request]:
    """Requests carrying ``items``, a batch when it is full; partial batches are sent when ``items`` ends
    or when stale (:data:`STALE_BATCHES`).

    ``batch`` > 1 groups the items of each batched stream (:data:`BATCH_ROUTES`) into bodies of that many;
    1 posts each item alone to its stream's single-item route.
    """
    pending: dict[Stream, _Pending] = {}
    seen_ids: set[str] = set()

    def flush(stream: Stream) -> Request:
        group = pending.pop(stream)
        body = _encode({"events": group.bodies}, compress)
        return Request(stream, BATCH_ROUTES[stream], body, len(group.bodies), True, group.repeats)

    for position, item in enumerate(items):
        client_id = item.body.get("id")
        repeat = 0
        if isinstance(client_id, str):
            repeat = int(client_id in seen_ids)
            seen_ids.add(client_id)
        if item.stream not in BATCH_ROUTES or batch == 1:
            yield Request(item.stream, ROUTES[item.stream], _encode(item.body, compress), 1, False, repeat)
        else:
            group = pending.setdefault(item.stream, _Pending(position))
            group.bodies.append(item.body)
            group.repeats += repeat
            if len(group.bodies) >= batch:
                yield flush(item.stream)
        for stream in [s for s, group in pending.items() if position - group.since >= STALE_BATCHES * batch]:
            yield flush(stream)
    for stream in list(pending):
        yield flush(stream)
