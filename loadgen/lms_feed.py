"""The learning platform generator's output buffer: items of the LMS streams with the time they happened and
the time a real feed would deliver them, released in delivery order.

Everything in the generator is placed on one clock (epoch seconds, rounded to milliseconds, as the
contract's times are); a body's times are written as ISO-8601 in the tenant's zone, as an LMS would send
them. Delivery order is separate from event order: :meth:`Feed.items` sorts by delivery time (ties in the
order the items were added), which is how late events, out-of-order versions and events before their
entities end up in a feed.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from schemas.topics import Stream

HOUR_S = 3600.0
DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class LmsItem:
    """One body a client posts to an LMS stream's route (one item of the stream's union)."""

    stream: Stream
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Pending:
    deliver_at: float
    order: int
    item: LmsItem


def ms(epoch_s: float) -> float:
    """``epoch_s`` rounded to the millisecond: the contract's precision, so versions and times agree."""
    return round(epoch_s * 1000) / 1000


def version_of(epoch_s: float) -> int:
    """An entity version: the time the version was recorded, in microseconds (ADR 0015)."""
    return round(epoch_s * 1000) * 1000


class Feed:
    """Collects one tenant's items; ``rng`` draws client event ids, so the output stays seeded."""

    def __init__(self, zone: ZoneInfo, rng: random.Random) -> None:
        self.zone = zone
        self._rng = rng
        self._pending: list[_Pending] = []
        self.activity_times: list[tuple[float, int]] = []
        """(time, watch seconds) of every activity event added once: what the platform served."""

    def time(self, epoch_s: float) -> str:
        """ISO-8601 with the tenant's offset and milliseconds."""
        return datetime.fromtimestamp(ms(epoch_s), self.zone).isoformat(timespec="milliseconds")

    def event_id(self) -> str:
        """A client event id (UUID version 4) drawn from the seeded generator."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def add(self, stream: Stream, body: dict[str, Any], at: float, delay: float = 0.0) -> None:
        """An item that happened at ``at``, delivered ``delay`` seconds later."""
        self._pending.append(_Pending(at + delay, len(self._pending), LmsItem(stream, body)))
        if stream is Stream.LMS_ACTIVITY:
            self.activity_times.append((at, int(body.get("watch_duration", 0))))

    def resend(self, item_body: dict[str, Any], stream: Stream, deliver_at: float) -> None:
        """A retry of an item already added: the same body (same client ``id``) delivered again."""
        copy = {key: (dict(value) if isinstance(value, dict) else value) for key, value in item_body.items()}
        self._pending.append(_Pending(deliver_at, len(self._pending), LmsItem(stream, copy)))

    def items(self) -> list[LmsItem]:
        return [pending.item for pending in sorted(self._pending, key=lambda p: (p.deliver_at, p.order))]
