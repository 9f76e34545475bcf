"""Rate limits: token buckets per credential and per tenant, answered with 429 ``RATE_LIMITED``.

A bucket holds up to ``burst`` tokens and refills at ``per_second``; a request takes ``cost`` tokens (1 per
request, or the number of events of a batch). State is two floats per key, refilled lazily on use, so the
cost of a check does not grow with the rate (a log of hits would, at 10k events/s). Buckets live in the
process: with N processes a key may get up to N times the configured rate (``docs/rate-limits.md``).

Checks never await, so in one event loop they are atomic; a lock per :class:`TokenBuckets` keeps them
correct when called from FastAPI's thread pool too.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cachetools import LRUCache
from pydantic import Field
from pydantic_settings import BaseSettings

from plumbing.http_errors import ApiError
from plumbing.settings import ENV_CONFIG
from schemas.envelope import ErrorCode, detail

Clock = Callable[[], float]

_EPSILON = 1e-9
"""Float refills drift by ~1e-15 per step; a token (or second) short by less than this counts as there,
so a client that waits exactly ``Retry-After`` is let through and headers do not round up by a second."""


@dataclass(frozen=True, slots=True)
class Rate:
    """``per_second`` tokens refill, at most ``burst`` held; ``per_second <= 0`` means unlimited."""

    per_second: float
    burst: float

    def __post_init__(self) -> None:
        if self.limited and self.burst < 1:
            raise ValueError(f"burst must be at least 1 when a rate is set (got {self.burst})")

    @property
    def limited(self) -> bool:
        return self.per_second > 0


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to one take, and what the ``X-RateLimit-*`` headers report."""

    allowed: bool
    limit: int
    """The burst: most tokens a key can hold, and so most a request can cost."""
    remaining: int
    """Whole tokens left after this take (floor)."""
    reset_s: float
    """Seconds until the bucket is full again."""
    retry_after_s: int
    """Whole seconds (ceil, at least 1) until ``cost`` tokens are there; 0 when allowed or impossible."""
    possible: bool = True
    """False when the cost exceeds the burst: waiting never helps, answer 413 instead of 429."""
    limited: bool = True
    """False for an unlimited rate: no headers are sent."""
    scope: str = ""
    """Name of the bucket that decided, e.g. ``tenant events`` (error messages, metric labels)."""


UNLIMITED = Verdict(allowed=True, limit=0, remaining=0, reset_s=0.0, retry_after_s=0, limited=False)


class _Bucket:
    __slots__ = ("at", "tokens")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens = tokens
        self.at = at


class TokenBuckets:
    """One token bucket per key, all with the same :class:`Rate`.

    At most ``max_keys`` buckets are kept; the least recently used is dropped beyond that. A dropped key
    comes back with a full bucket, so ``max_keys`` must exceed the keys active within ``burst / per_second``
    seconds for the limit to hold exactly (a full bucket is the same as no bucket).
    """

    def __init__(
        self, rate: Rate, clock: Clock = time.monotonic, max_keys: int = 100_000, name: str = ""
    ) -> None:
        self.rate = rate
        self.name = name
        self._clock = clock
        self._buckets: LRUCache[str, _Bucket] = LRUCache(maxsize=max_keys)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, cost: float = 1.0) -> Verdict:
        """Take ``cost`` tokens if they are all there; otherwise take none and say when they will be.

        A cost above the burst can never be met: the verdict has ``possible=False`` and ``retry_after_s=0``
        (answer 413/400, not a ``Retry-After`` the client would wait on forever). ``cost=0`` only looks.
        """
        rate = self.rate
        if not rate.limited:
            return UNLIMITED
        with self._lock:
            bucket = self._refilled(key)
            possible = cost <= rate.burst + _EPSILON
            allowed = possible and bucket.tokens + _EPSILON >= cost
            if allowed:
                bucket.tokens = max(0.0, bucket.tokens - cost)
            tokens = bucket.tokens
        retry_after = 0
        if possible and not allowed:
            retry_after = max(1, math.ceil((cost - tokens) / rate.per_second - _EPSILON))
        return Verdict(
            allowed=allowed,
            limit=math.floor(rate.burst),
            remaining=math.floor(tokens + _EPSILON),
            reset_s=(rate.burst - tokens) / rate.per_second,
            retry_after_s=retry_after,
            possible=possible,
            scope=self.name,
        )

    def refund(self, key: str, cost: float = 1.0) -> None:
        """Give back tokens taken earlier (never beyond the burst), e.g. when another limit refused."""
        if not self.rate.limited:
            return
        with self._lock:
            bucket = self._refilled(key)
            bucket.tokens = min(self.rate.burst, bucket.tokens + cost)

    def _refilled(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.rate.burst, now)
            return bucket
        elapsed = max(0.0, now - bucket.at)
        bucket.tokens = min(self.rate.burst, bucket.tokens + elapsed * self.rate.per_second)
        bucket.at = now
        return bucket


def take_all(items: Sequence[tuple[TokenBuckets, str, float]]) -> Verdict:
    """Take from every ``(buckets, key, cost)`` or from none: a refused request consumes nothing.

    Every item is checked, so the answer covers all of them: an impossible verdict first, else the refusal
    with the longest ``Retry-After``, else (all allowed) the limited verdict with the fewest remaining.
    """
    verdicts = [buckets.take(key, cost) for buckets, key, cost in items]
    if not all(v.allowed for v in verdicts):
        for (buckets, key, cost), verdict in zip(items, verdicts, strict=True):
            if verdict.allowed:
                buckets.refund(key, cost)
        impossible = [v for v in verdicts if not v.possible]
        if impossible:
            return impossible[0]
        return max((v for v in verdicts if not v.allowed), key=lambda v: v.retry_after_s)
    limited = [v for v in verdicts if v.limited]
    return min(limited, key=lambda v: (v.remaining, v.reset_s)) if limited else UNLIMITED


@dataclass(frozen=True, slots=True)
class RateLimiter:
    """The buckets one service checks per request: requests per credential and per tenant, and on the
    gateway events too. Keys: ``Principal.credential`` and ``Principal.tenant_id``."""

    credential_requests: TokenBuckets
    tenant_requests: TokenBuckets
    credential_events: TokenBuckets | None = None
    tenant_events: TokenBuckets | None = None

    def check(self, credential: str, tenant: str, events: int = 0, requests: int = 1) -> Verdict:
        """All or nothing over every bucket: ``requests`` to the request buckets, ``events`` (a batch's
        size) to the event buckets. ``requests=0`` charges events alone, e.g. once a body is parsed after
        the request itself was checked."""
        items: list[tuple[TokenBuckets, str, float]] = []
        if requests > 0:
            items += [
                (self.credential_requests, credential, requests),
                (self.tenant_requests, tenant, requests),
            ]
        if events > 0:
            if self.credential_events is not None:
                items.append((self.credential_events, credential, events))
            if self.tenant_events is not None:
                items.append((self.tenant_events, tenant, events))
        return take_all(items)


def rate_limit_headers(verdict: Verdict) -> dict[str, str]:
    """``X-RateLimit-Limit/Remaining/Reset`` (reset in seconds from now), plus ``Retry-After`` on a 429."""
    if not verdict.limited:
        return {}
    headers = {
        "X-RateLimit-Limit": str(verdict.limit),
        "X-RateLimit-Remaining": str(verdict.remaining),
        "X-RateLimit-Reset": str(max(0, math.ceil(verdict.reset_s - _EPSILON))),
    }
    if not verdict.allowed and verdict.possible:
        headers["Retry-After"] = str(verdict.retry_after_s)
    return headers


def raise_if_limited(verdict: Verdict) -> None:
    """429 ``RATE_LIMITED`` with ``Retry-After`` when refused; 413 ``PAYLOAD_TOO_LARGE`` when the request
    costs more than the burst, since retrying it can never succeed."""
    if verdict.allowed:
        return
    scope = verdict.scope or "requests"
    headers = rate_limit_headers(verdict)
    if not verdict.possible:
        raise ApiError(
            413,
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"request is larger than the rate limit allows at once ({verdict.limit} {scope}); "
            "send it in smaller parts",
            [detail(scope, f"at most {verdict.limit} {scope} at once", "too_large_for_rate_limit")],
            headers=headers,
        )
    raise ApiError(
        429,
        ErrorCode.RATE_LIMITED,
        f"rate limit exceeded ({scope} per second); retry after {verdict.retry_after_s} s",
        [detail(scope, f"over the rate; retry after {verdict.retry_after_s} s", "rate_limited")],
        headers=headers,
    )


class RateLimitSettings(BaseSettings):
    """``ANALYTICS_*`` rate limits, per process (see ``docs/rate-limits.md`` for N processes).

    Defaults sit at about one process's measured capacity (the measurements: ``docs/rate-limits.md``), so
    one tenant posting full batches is never slowed below what the hardware gives; they stop a runaway
    client on a faster host, and multi-tenant operators lower them. Per tenant is twice per credential, so
    two credentials of one tenant (e.g. web and back end) can each run at their full rate. A rate of 0
    disables that limit.
    """

    model_config = ENV_CONFIG

    rate_limits_enabled: bool = True
    rate_limit_max_keys: int = Field(default=100_000, ge=1)
    """Buckets kept per limit (LRU); must exceed the credentials and tenants active at once."""

    gateway_credential_requests_per_s: float = Field(default=1_000.0, ge=0)
    """A server-side sender relaying many clients under one credential: 1,000 requests/s is ~10k clients
    sending every 10 s (browsers send their users' own tokens, never an ingestion key). Above what a
    process answers in batches, so this bites only on floods of tiny requests."""
    gateway_credential_requests_burst: float = Field(default=2_000.0, ge=1)
    gateway_credential_events_per_s: float = Field(default=20_000.0, ge=0)
    """About one gateway process's measured throughput."""
    gateway_credential_events_burst: float = Field(default=40_000.0, ge=1)
    """40 full batches of 1,000: a client flushing its backlog after an outage passes at once. Must be at
    least ``ANALYTICS_GATEWAY_MAX_BATCH_EVENTS``, or a full batch is refused with 413."""
    gateway_tenant_requests_per_s: float = Field(default=2_000.0, ge=0)
    gateway_tenant_requests_burst: float = Field(default=4_000.0, ge=1)
    gateway_tenant_events_per_s: float = Field(default=40_000.0, ge=0)
    gateway_tenant_events_burst: float = Field(default=80_000.0, ge=1)

    query_credential_requests_per_s: float = Field(default=100.0, ge=0)
    """Above what a query process serves uncached, so a dashboard user is never refused by the limit;
    more than that from one credential is a loop hitting the cache."""
    query_credential_requests_burst: float = Field(default=200.0, ge=1)
    """A dashboard page fires a handful of requests at once; 200 covers dozens of tabs opening together."""
    query_tenant_requests_per_s: float = Field(default=200.0, ge=0)
    query_tenant_requests_burst: float = Field(default=400.0, ge=1)

    def check_batch_fits(self, max_batch_events: int) -> None:
        """Refuse to start with an events burst below the largest batch: such batches could never pass."""
        for name, burst in (
            ("ANALYTICS_GATEWAY_CREDENTIAL_EVENTS_BURST", self.gateway_credential_events_burst),
            ("ANALYTICS_GATEWAY_TENANT_EVENTS_BURST", self.gateway_tenant_events_burst),
        ):
            if self.rate_limits_enabled and burst < max_batch_events:
                raise ValueError(f"{name}={burst:g} is below the largest batch ({max_batch_events} events)")

    def gateway_limiter(self, clock: Clock = time.monotonic) -> RateLimiter:
        """Requests and events, per credential and per tenant."""
        return RateLimiter(
            credential_requests=self._buckets(
                "credential requests",
                self.gateway_credential_requests_per_s,
                self.gateway_credential_requests_burst,
                clock,
            ),
            tenant_requests=self._buckets(
                "tenant requests",
                self.gateway_tenant_requests_per_s,
                self.gateway_tenant_requests_burst,
                clock,
            ),
            credential_events=self._buckets(
                "credential events",
                self.gateway_credential_events_per_s,
                self.gateway_credential_events_burst,
                clock,
            ),
            tenant_events=self._buckets(
                "tenant events", self.gateway_tenant_events_per_s, self.gateway_tenant_events_burst, clock
            ),
        )

    def query_limiter(self, clock: Clock = time.monotonic) -> RateLimiter:
        """Requests per credential and per tenant."""
        return RateLimiter(
            credential_requests=self._buckets(
                "credential requests",
                self.query_credential_requests_per_s,
                self.query_credential_requests_burst,
                clock,
            ),
            tenant_requests=self._buckets(
                "tenant requests", self.query_tenant_requests_per_s, self.query_tenant_requests_burst, clock
            ),
        )

    def _buckets(self, name: str, per_second: float, burst: float, clock: Clock) -> TokenBuckets:
        rate = Rate(per_second, burst) if self.rate_limits_enabled else Rate(0.0, 0.0)
        return TokenBuckets(rate, clock=clock, max_keys=self.rate_limit_max_keys, name=name)
