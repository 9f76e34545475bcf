"""Token buckets on a fake clock: bursts pass, sustained excess gets 429 with an exact ``Retry-After``, a
refused request consumes nothing, and memory stays bounded."""

from __future__ import annotations

import math

import pytest

from plumbing.http_errors import ApiError
from schemas.envelope import ErrorCode
from security.rate_limit import (
    UNLIMITED,
    Rate,
    RateLimitSettings,
    TokenBuckets,
    Verdict,
    raise_if_limited,
    rate_limit_headers,
    take_all,
)


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def drained(rate: Rate, clock: FakeClock, key: str = "k") -> TokenBuckets:
    buckets = TokenBuckets(rate, clock=clock, name="test")
    assert buckets.take(key, rate.burst).allowed
    return buckets


def settings(**values: object) -> RateLimitSettings:
    """Limits on unless a test says otherwise (the test session turns them off in the environment)."""
    return RateLimitSettings(_env_file=None, **{"rate_limits_enabled": True, **values})  # type: ignore[call-arg]


def test_a_full_burst_passes_at_once_then_the_next_request_waits() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(Rate(per_second=10, burst=20), clock=clock)
    remaining = [buckets.take("k").remaining for _ in range(20)]
    assert remaining == list(range(19, -1, -1))
    refused = buckets.take("k")
    assert (refused.allowed, refused.remaining, refused.retry_after_s, refused.reset_s) == (False, 0, 1, 2.0)


@pytest.mark.parametrize(
    ("per_second", "burst", "elapsed", "cost", "allowed", "remaining", "retry_after_s", "exact_wait_s"),
    [
        # drained at t=0, then `elapsed` seconds later a request of `cost` tokens
        (1.0, 10, 0.0, 4, False, 0, 4, 4.0),
        (1.0, 10, 2.5, 4, False, 2, 2, 1.5),
        (1.0, 10, 4.0, 4, True, 0, 0, 0.0),
        (0.5, 2, 0.0, 1, False, 0, 2, 2.0),
        (0.5, 2, 1.0, 1, False, 0, 1, 1.0),
        (1_000.0, 2_000, 0.5, 1_000, False, 500, 1, 0.5),
        (1_000.0, 2_000, 1.0, 1_000, True, 0, 0, 0.0),
        (1_000.0, 2_000, 0.25, 2_000, False, 250, 2, 1.75),
        (100.0, 100, 0.001, 1, False, 0, 1, 0.009),  # under a second still says 1, never 0
        (2.0, 5, 1.25, 1, True, 1, 0, 0.0),
    ],
)
def test_retry_after_is_the_exact_wait_rounded_up(
    per_second: float,
    burst: float,
    elapsed: float,
    cost: float,
    allowed: bool,
    remaining: int,
    retry_after_s: int,
    exact_wait_s: float,
) -> None:
    clock = FakeClock()
    buckets = drained(Rate(per_second, burst), clock)
    clock.advance(elapsed)
    verdict = buckets.take("k", cost)
    assert (verdict.allowed, verdict.remaining, verdict.retry_after_s) == (allowed, remaining, retry_after_s)
    if not allowed:
        clock.advance(exact_wait_s * 0.999)
        assert not buckets.take("k", cost).allowed, "a refusal consumes nothing, and the wait is not shorter"
        clock.advance(exact_wait_s * 0.001)
        assert buckets.take("k", cost).allowed, "after the exact wait the same request passes"


def test_sustained_twice_the_rate_gets_the_rate_plus_the_burst() -> None:
    clock = FakeClock(0.0)
    buckets = TokenBuckets(Rate(per_second=10, burst=20), clock=clock)
    verdicts: list[Verdict] = []
    for step in range(200):  # 20 requests/s for 10 s
        clock.now = step / 20
        verdicts.append(buckets.take("k"))
    allowed = sum(v.allowed for v in verdicts)
    assert allowed == math.floor(20 + 10 * 9.95) == 119
    refused = [v for v in verdicts if not v.allowed]
    assert {(v.remaining, v.retry_after_s) for v in refused} == {(0, 1)}
    assert all(v.allowed for v in verdicts[:20]), "the burst passes before any refusal"


def test_a_client_honouring_retry_after_gets_the_configured_rate() -> None:
    clock = FakeClock(0.0)
    buckets = TokenBuckets(Rate(per_second=1_000, burst=2_000), clock=clock)
    accepted, waited = 0, False
    while clock.now < 60:
        verdict = buckets.take("k", 1_000)  # full batches, as fast as allowed
        assert verdict.allowed or not waited, "a request sent after its Retry-After passes"
        waited = not verdict.allowed
        if verdict.allowed:
            accepted += 1_000
        else:
            clock.advance(verdict.retry_after_s)
    assert accepted == 2_000 + 1_000 * 59, "the burst, then the rate over the 59 s to the last request"


def test_tokens_refill_with_time_up_to_the_burst() -> None:
    clock = FakeClock()
    buckets = drained(Rate(per_second=5, burst=10), clock)
    clock.advance(1.0)
    assert buckets.take("k").remaining == 4
    clock.advance(100.0)
    verdict = buckets.take("k")
    assert (verdict.remaining, verdict.reset_s) == (9, 0.2)
    assert rate_limit_headers(verdict)["X-RateLimit-Reset"] == "1"


def test_keys_have_their_own_buckets() -> None:
    clock = FakeClock()
    buckets = drained(Rate(per_second=1, burst=3), clock, key="a")
    assert not buckets.take("a").allowed
    assert buckets.take("b").remaining == 2


def test_a_cost_above_the_burst_is_impossible_and_consumes_nothing() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(Rate(per_second=1_000, burst=2_000), clock=clock, name="tenant events")
    verdict = buckets.take("k", 2_001)
    assert (verdict.allowed, verdict.possible, verdict.retry_after_s, verdict.remaining) == (
        False,
        False,
        0,
        2_000,
    )
    assert "Retry-After" not in rate_limit_headers(verdict)
    assert buckets.take("k", 2_000).allowed
    with pytest.raises(ApiError) as caught:
        raise_if_limited(verdict)
    assert (caught.value.status, caught.value.code) == (413, ErrorCode.PAYLOAD_TOO_LARGE)
    assert "2000 tenant events" in caught.value.message


def test_a_refusal_by_one_bucket_refunds_the_others() -> None:
    clock = FakeClock()
    credential = TokenBuckets(Rate(per_second=10, burst=10), clock=clock, name="credential")
    tenant = TokenBuckets(Rate(per_second=10, burst=3), clock=clock, name="tenant")
    items = [(credential, "c", 1.0), (tenant, "t", 1.0)]
    verdicts = [take_all(items) for _ in range(4)]
    assert [(v.allowed, v.scope, v.remaining) for v in verdicts] == [
        (True, "tenant", 2),
        (True, "tenant", 1),
        (True, "tenant", 0),
        (False, "tenant", 0),
    ]
    assert credential.take("c").remaining == 6, "the refused fourth request took nothing from the credential"


def test_the_answer_is_the_most_restrictive_bucket() -> None:
    clock = FakeClock()
    fast = drained(Rate(per_second=1, burst=1), clock)
    slow = drained(Rate(per_second=0.25, burst=1), clock)
    roomy = TokenBuckets(Rate(per_second=1, burst=100), clock=clock)
    refused = take_all([(fast, "k", 1.0), (slow, "k", 1.0), (roomy, "k", 1.0)])
    assert (refused.allowed, refused.retry_after_s) == (False, 4)
    assert roomy.take("k").remaining == 99
    impossible = take_all([(slow, "k", 1.0), (roomy, "k", 101.0)])
    assert (impossible.possible, impossible.limit) == (False, 100)
    unlimited = TokenBuckets(Rate(per_second=0, burst=0), clock=clock)
    assert take_all([(unlimited, "k", 1.0)]) is UNLIMITED
    assert take_all([(unlimited, "k", 1.0), (roomy, "k", 1.0)]).remaining == 98


def test_least_recently_used_keys_are_evicted_beyond_max_keys() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(Rate(per_second=1, burst=5), clock=clock, max_keys=3)
    for key in "abc":
        buckets.take(key, 5)
    buckets.take("a", 0)  # touch: b is now the least recently used
    buckets.take("d", 5)
    assert len(buckets) == 3
    assert buckets.take("b").remaining == 4, "an evicted key comes back with a full bucket"
    assert not buckets.take("a").allowed, "a recently used key keeps its state"


def test_headers_report_limit_remaining_reset_and_retry_after() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(Rate(per_second=2, burst=5), clock=clock, name="credential requests")
    assert rate_limit_headers(buckets.take("k", 2)) == {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "3",
        "X-RateLimit-Reset": "1",
    }
    buckets.take("k", 3)
    clock.advance(0.25)
    refused = buckets.take("k", 2)
    assert rate_limit_headers(refused) == {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "3",
        "Retry-After": "1",
    }
    with pytest.raises(ApiError) as caught:
        raise_if_limited(refused)
    error = caught.value
    assert (error.status, error.code, error.headers) == (
        429,
        ErrorCode.RATE_LIMITED,
        rate_limit_headers(refused),
    )
    assert error.message == "rate limit exceeded (credential requests per second); retry after 1 s"
    raise_if_limited(buckets.take("k", 0))
    assert rate_limit_headers(UNLIMITED) == {}


def test_gateway_limiter_charges_requests_and_events_per_credential_and_tenant() -> None:
    clock = FakeClock()
    limiter = settings(
        gateway_credential_events_per_s=1_000,
        gateway_credential_events_burst=1_500,
        gateway_tenant_events_per_s=100,
        gateway_tenant_events_burst=2_200,
    ).gateway_limiter(clock)
    assert limiter.check("acme/web", "acme", events=1_000).allowed
    refused = limiter.check("acme/web", "acme", events=1_000)
    assert (refused.allowed, refused.scope, refused.retry_after_s) == (False, "credential events", 1)
    assert limiter.credential_requests.take("acme/web", 0).remaining == 1_999, "the refusal was refunded"
    shared = limiter.check("acme/backend", "acme", events=1_000)
    assert (shared.allowed, shared.scope, shared.remaining) == (True, "tenant events", 200)
    over_tenant = limiter.check("acme/backend", "acme", events=1_000)
    assert (over_tenant.scope, over_tenant.retry_after_s) == ("tenant events", 8), "800 events at 100/s"
    events_only = limiter.check("other", "other", events=10, requests=0)
    assert limiter.credential_requests.take("other", 0).remaining == 2_000
    assert events_only.remaining == 1_490


def test_query_limiter_and_switching_limits_off() -> None:
    clock = FakeClock()
    limiter = settings(query_credential_requests_per_s=1, query_credential_requests_burst=2).query_limiter(
        clock
    )
    assert [limiter.check("c", "t").allowed for _ in range(3)] == [True, True, False]
    off = settings(rate_limits_enabled=False).gateway_limiter(clock)
    assert all(off.check("c", "t", events=10**6) is UNLIMITED for _ in range(100))
    assert len(off.credential_requests) == 0


def test_settings_come_from_the_environment_and_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYTICS_GATEWAY_TENANT_EVENTS_PER_S", "5000")
    monkeypatch.setenv("ANALYTICS_RATE_LIMITS_ENABLED", "false")
    loaded = RateLimitSettings(_env_file=None)  # type: ignore[call-arg]
    assert (loaded.gateway_tenant_events_per_s, loaded.rate_limits_enabled) == (5000.0, False)
    monkeypatch.delenv("ANALYTICS_RATE_LIMITS_ENABLED")
    defaults = RateLimitSettings.model_fields
    assert defaults["gateway_credential_events_burst"].default >= 1_000, "a full batch must fit the burst"
    settings().check_batch_fits(1_000)
    with pytest.raises(ValueError, match="ANALYTICS_GATEWAY_CREDENTIAL_EVENTS_BURST"):
        settings(gateway_credential_events_burst=999).check_batch_fits(1_000)
    with pytest.raises(ValueError, match="burst must be at least 1"):
        Rate(per_second=10, burst=0.5)
