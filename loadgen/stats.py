"""What a load run measured: counts per stream, HTTP statuses, failures and request latencies."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from schemas.topics import Stream

MAX_SAMPLES = 5


@dataclass
class StreamCounts:
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    """Items the gateway answered 200 for but refused (a batch's ``failed_count``)."""
    failed: int = 0
    """Items of requests that failed as a whole (non-2xx answer or transport error)."""
    resent: int = 0
    """Accepted items repeating an earlier item's client ``id``: retries the traffic model makes on purpose,
    which the store keeps once (counted in ``accepted`` too)."""


@dataclass
class Tally:
    streams: dict[Stream, StreamCounts] = field(default_factory=lambda: {s: StreamCounts() for s in Stream})
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_s: list[float] = field(default_factory=list)
    requests: int = 0
    errors: int = 0
    """Failed requests (non-2xx or transport error)."""
    samples: list[str] = field(default_factory=list)
    """The first few failures, for the operator."""

    def failure(self, stream: Stream, count: int, what: str) -> None:
        self.errors += 1
        self.streams[stream].failed += count
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(what)

    def total(self, name: str) -> int:
        return sum(getattr(counts, name) for counts in self.streams.values())

    @property
    def ok(self) -> bool:
        """No failed request and no refused item."""
        return self.errors == 0 and self.total("rejected") == 0

    def summary(self, elapsed_s: float) -> dict[str, Any]:
        ordered = sorted(self.latencies_s)

        def quantile_ms(q: float) -> float:
            if not ordered:
                return 0.0
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

        accepted = self.total("accepted")
        elapsed = max(elapsed_s, 1e-9)
        return {
            "sent": self.total("sent"),
            "accepted": accepted,
            "rejected": self.total("rejected"),
            "failed": self.total("failed"),
            "resent": self.total("resent"),
            "errors": self.errors,
            "requests": self.requests,
            "duration_s": round(elapsed_s, 2),
            "events_per_s": round(accepted / elapsed, 1),
            "requests_per_s": round(self.requests / elapsed, 1),
            "latency_ms": {"p50": quantile_ms(0.5), "p90": quantile_ms(0.9), "p99": quantile_ms(0.99)},
            "statuses": {str(code): n for code, n in sorted(self.statuses.items())},
            "streams": {
                stream.value: {
                    "sent": c.sent,
                    "accepted": c.accepted,
                    "rejected": c.rejected,
                    "failed": c.failed,
                    "resent": c.resent,
                }
                for stream, c in self.streams.items()
            },
            "error_samples": self.samples,
        }
