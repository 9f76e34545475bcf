"""The formulas of docs/metrics.md."""

from __future__ import annotations

import asyncio

import pytest

from query_api.cache import ResultCache
from query_api.formulas import (
    SCORE_CURVES,
    change_percentage,
    log_normal_score,
    performance_score,
    trend_of,
    user_segment,
    vital_rating,
)
from query_api.metrics import QueryMetrics


def test_lighthouse_curve_control_points() -> None:
    lcp = SCORE_CURVES["largest_contentful_paint"]
    assert log_normal_score(lcp.p10, lcp) == pytest.approx(0.9, abs=1e-9)
    assert log_normal_score(lcp.median, lcp) == pytest.approx(0.5, abs=1e-9)
    assert log_normal_score(0, lcp) == 1.0
    assert log_normal_score(60_000, lcp) < 0.01
    scores = [log_normal_score(v, lcp) for v in range(0, 20_000, 250)]
    assert scores == sorted(scores, reverse=True)


def test_performance_score_weights_and_missing_metrics() -> None:
    at_p10 = {name: curve.p10 for name, curve in SCORE_CURVES.items()}
    at_median = {name: curve.median for name, curve in SCORE_CURVES.items()}
    assert performance_score(at_p10) == 90
    assert performance_score(at_median) == 50
    # TBT weighs most (0.30 of 0.90): a perfect TBT alone lifts a median page to 50 + 50*0.3/0.9
    assert performance_score({**at_median, "total_blocking_time": 0}) == round(50 + 50 * 0.30 / 0.90)
    assert performance_score({"largest_contentful_paint": 1000}) is None


def test_ratings_trends_and_changes() -> None:
    assert vital_rating("largest_contentful_paint", 2500) == "good"
    assert vital_rating("largest_contentful_paint", 2501) == "needs-improvement"
    assert vital_rating("cumulative_layout_shift", 0.26) == "poor"
    assert vital_rating("first_input_delay", None) is None
    assert change_percentage(25, 20) == 25.0 and change_percentage(5, 0) is None
    assert trend_of(105, 100) == "stable" and trend_of(106, 100) == "up" and trend_of(94, 100) == "down"
    assert trend_of(3, 0) == "up" and trend_of(0, 0) == "stable"


def test_user_segments() -> None:
    assert user_segment(0, 30, 100) is None
    assert user_segment(3, 30, 5) == "new_user"
    assert user_segment(15, 30, 100) == "power_user"
    assert user_segment(6, 30, 100) == "regular_user"
    assert user_segment(5, 30, 100) == "casual_user"


async def test_cache_single_flight_and_expiry() -> None:
    metrics = QueryMetrics()
    cache = ResultCache(metrics, max_entries=2, ttl_s=60)
    calls = 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return calls

    results = await asyncio.gather(*(cache.get_or_compute("k", compute) for _ in range(5)))
    assert results == [1] * 5 and calls == 1
    assert await cache.get_or_compute("k", compute) == 1
    await cache.get_or_compute("a", compute)
    await cache.get_or_compute("b", compute)  # bounded: "k" is evicted
    assert await cache.get_or_compute("k", compute) == 4
    hits = metrics.cache.labels("hit")._value.get()
    assert hits == 5

    async def failing() -> int:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await cache.get_or_compute("f", failing)
    assert await cache.get_or_compute("f", compute) == 5  # a failure is not cached


async def test_a_stale_value_is_answered_while_one_refresh_computes_the_next() -> None:
    metrics = QueryMetrics()
    now = [0.0]
    cache = ResultCache(metrics, ttl_s=60, serve_stale_s=300, clock=lambda: now[0])
    calls = 0
    release = asyncio.Event()

    async def compute() -> int:
        nonlocal calls
        calls += 1
        if calls > 1:
            await release.wait()
        return calls

    assert await cache.get_or_compute("k", compute) == 1
    now[0] = 61  # past the TTL, within the stale window: answered at once, one refresh started
    answers = [await cache.get_or_compute("k", compute) for _ in range(3)]
    await asyncio.sleep(0)  # the refresh task starts
    assert answers == [1, 1, 1] and calls == 2  # one refresh, however many stale answers
    release.set()
    for _ in range(5):  # let the refresh finish
        await asyncio.sleep(0)
    assert await cache.get_or_compute("k", compute) == 2 and calls == 2
    now[0] = 61 + 60 + 300  # past the stale window too: the caller waits for a new value
    assert await cache.get_or_compute("k", compute) == 3
    assert metrics.cache.labels("stale")._value.get() == 3

    failing_cache = ResultCache(metrics, ttl_s=60, serve_stale_s=300, clock=lambda: now[0])
    await failing_cache.get_or_compute("f", compute)  # 4

    async def broken() -> int:
        raise RuntimeError("store down")

    now[0] += 61
    assert await failing_cache.get_or_compute("f", broken) == 4  # the refresh fails in the background
    for _ in range(5):
        await asyncio.sleep(0)
    assert await failing_cache.get_or_compute("f", compute) == 4  # still the stale value, refreshed again
    for _ in range(5):
        await asyncio.sleep(0)
    assert await failing_cache.get_or_compute("f", compute) == 5


def test_every_read_endpoint_documents_an_example_that_fits_its_response_model() -> None:
    from fastapi.routing import APIRoute
    from pydantic import TypeAdapter

    from query_api.main import RESOURCE_ROUTERS, create_app

    schema = create_app().openapi()
    routes = {
        (route.path, method.lower()): route
        for router in RESOURCE_ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    documented = 0
    for path, methods in schema["paths"].items():
        if not path.startswith("/analytics/"):
            continue
        for method, operation in methods.items():
            assert operation["responses"]["200"]["content"]["application/json"]["example"]
            # FastAPI drops nulls from examples when rendering OpenAPI: validate the stored example itself
            route = routes[(path, method)]
            documented_200 = route.responses[200]["content"]["application/json"]["example"]
            model = route.response_model
            example = documented_200
            TypeAdapter(model).validate_python(example)
            assert operation.get("summary") and operation.get("description"), (method, path)
            documented += 1
    assert documented == 16


async def test_store_never_opens_more_clients_than_its_pool() -> None:
    from typing import Any

    from query_api.store import QueryStore

    opened: list[int] = []

    class FakeClient:
        def query(self, sql: str, parameters: Any = None, settings: Any = None) -> Any:
            import time as _time

            _time.sleep(0.01)
            return type("Result", (), {"result_rows": [(settings,)]})()

        def close(self) -> None:
            pass

    def open_client() -> Any:
        opened.append(1)
        return FakeClient()

    store = QueryStore(open_client, QueryMetrics(), pool_size=3)
    tuned = store.tuned({"optimize_move_to_prewhere": 0})
    # a tuned view runs its statements with its settings, on the same pool: still 3 clients for 20 at once
    results = await asyncio.gather(
        *(store.rows("SELECT 1") for _ in range(10)), *(tuned.rows("SELECT 1") for _ in range(10))
    )
    assert results == [[(None,)]] * 10 + [[({"optimize_move_to_prewhere": 0},)]] * 10
    assert len(opened) == 3
    assert await store.tuned({"a": 1}).tuned({"b": 2}).rows("SELECT 1") == [({"a": 1, "b": 2},)]
    assert store.tuned({"a": 1}) is store.tuned({"a": 1}) is not store  # a view is made once per settings
    await store.close()
