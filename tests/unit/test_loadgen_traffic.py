"""The load generator's traffic model: seeded, valid for the gateway, long-tailed, spread over history."""

from __future__ import annotations

import gzip
import itertools
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest

from loadgen.lms_traffic import platform_for
from loadgen.options import LoadOptions
from loadgen.requests import BATCH_ROUTES, ROUTES, pack
from loadgen.runner import _requests
from loadgen.traffic import Item, TrafficModel
from schemas.lms_payloads import LMS_ROUTES
from schemas.payloads import BATCH_ROUTE, PAYLOAD_MODELS, PerformanceMetricCreate
from schemas.topics import LMS_STREAMS, PRODUCT_STREAMS, Stream

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def take(model: TrafficModel, count: int) -> list[Item]:
    return list(itertools.islice(model.items(), count))


def test_the_same_seed_gives_the_same_traffic_and_another_seed_does_not() -> None:
    first = take(TrafficModel(seed=3, users=20, history_days=10, now=NOW), 2_000)
    again = take(TrafficModel(seed=3, users=20, history_days=10, now=NOW), 2_000)
    other = take(TrafficModel(seed=4, users=20, history_days=10, now=NOW), 2_000)
    assert first == again
    assert first != other


@pytest.mark.parametrize("history_days", [0, 42])
def test_every_body_of_every_stream_validates_against_the_gateway_models(history_days: int) -> None:
    items = take(TrafficModel(seed=11, users=60, history_days=history_days, now=NOW), 20_000)
    counts = Counter(item.stream for item in items)
    assert set(counts) == set(PRODUCT_STREAMS)  # the learning platform is a model of its own
    for item in items:
        # as the gateway sees it: JSON on the wire, parsed, then validated by the stream's model
        PAYLOAD_MODELS[item.stream].model_validate(orjson.loads(orjson.dumps(item.body)))


def test_streams_come_in_realistic_proportions_and_usage_is_once_per_user_day() -> None:
    items = take(TrafficModel(seed=5, users=50, history_days=42, now=NOW), 30_000)
    counts = Counter(item.stream for item in items)
    assert counts[Stream.EVENTS] > 0.7 * len(items)
    assert 0.05 * len(items) < counts[Stream.PERFORMANCE] < counts[Stream.EVENTS]
    assert 0 < counts[Stream.ACTIVITIES] < counts[Stream.PERFORMANCE]
    user_days = [(i.body["user_id"], i.body["date"]) for i in items if i.stream is Stream.USAGE]
    assert len(user_days) == len(set(user_days)) > 50
    severities = Counter(i.body["severity"] for i in items if i.stream is Stream.ACTIVITIES)
    assert severities.most_common(1)[0][0] == "info"
    assert {"warning", "error"} <= set(severities)


def test_a_stream_subset_is_the_same_sessions_filtered() -> None:
    """Runs for different streams with one seed describe one population (the demo relies on it)."""
    every = TrafficModel(seed=1, users=10, history_days=7, now=NOW)
    events = TrafficModel(seed=1, users=10, history_days=7, now=NOW, streams=frozenset({Stream.EVENTS}))
    usage = TrafficModel(seed=1, users=10, history_days=7, now=NOW, streams=frozenset({Stream.USAGE}))
    for _ in range(300):
        session = every.session()
        assert events.session() == [item for item in session if item.stream is Stream.EVENTS]
        assert usage.session() == [item for item in session if item.stream is Stream.USAGE]


def test_history_spans_the_requested_days_and_live_traffic_carries_no_time() -> None:
    items = take(TrafficModel(seed=2, users=30, history_days=42, now=NOW), 30_000)
    times = [datetime.fromisoformat(i.body["timestamp"]) for i in items if "timestamp" in i.body]
    assert len(times) == len(items) - sum(1 for i in items if i.stream is Stream.USAGE)
    assert min(times) >= NOW - timedelta(days=42)
    assert max(times) <= NOW
    days = {t.date() for t in times}
    assert len(days) >= 40  # every day of the six weeks has traffic, not a few clumps
    weeks = Counter(t.isocalendar()[:2] for t in times)
    assert len(weeks) >= 6
    usage_days = {date.fromisoformat(i.body["date"]) for i in items if i.stream is Stream.USAGE}
    assert min(usage_days) >= (NOW - timedelta(days=42)).date()

    live = take(TrafficModel(seed=2, users=30, now=NOW), 5_000)
    assert not any("timestamp" in i.body for i in live)
    assert {i.body["date"] for i in live if i.stream is Stream.USAGE} == {NOW.date().isoformat()}


def test_page_views_follow_a_long_tail() -> None:
    model = TrafficModel(seed=9, users=200, now=NOW)
    items = take(model, 80_000)
    views = Counter(
        i.body["properties"]["page"]
        for i in items
        if i.stream is Stream.EVENTS and i.body["event_name"] == "page_view"
    )
    ranked = [count for _, count in views.most_common()]
    total = sum(ranked)
    assert ranked[0] > 0.08 * total  # a head page gets a large share
    assert sum(ranked[:10]) > 0.4 * total  # the top ten get a large share...
    assert len(ranked) > 0.6 * len(model.pages)  # ...yet most pages are seen at least once
    assert sum(1 for count in ranked if count <= 5) > 100  # a long tail of rarely seen pages


def test_web_vitals_are_ordered_and_plausible() -> None:
    items = take(TrafficModel(seed=4, users=50, now=NOW), 40_000)
    vitals = [PerformanceMetricCreate.model_validate(i.body) for i in items if i.stream is Stream.PERFORMANCE]
    assert len(vitals) > 3_000
    for v in vitals:
        assert v.page
        assert v.time_to_first_byte <= v.first_contentful_paint <= v.largest_contentful_paint
        assert v.largest_contentful_paint <= v.page_load_time
    lcp = sorted(v.largest_contentful_paint for v in vitals)
    assert 1_000 < lcp[len(lcp) // 2] < 3_500  # median LCP of a real site
    assert lcp[int(0.99 * len(lcp))] > 2 * lcp[len(lcp) // 2]  # log-normal: a heavy right tail
    cls = sorted(float(v.cumulative_layout_shift) for v in vitals)
    assert 0.01 < cls[len(cls) // 2] < 0.1


def test_requests_batch_events_and_send_other_streams_alone() -> None:
    items = take(TrafficModel(seed=8, users=10, now=NOW), 1_000)
    requests = list(pack(items, batch=100, compress=False))
    assert sum(r.count for r in requests) == len(items)
    batches = [r for r in requests if r.batch]
    assert all(r.path == BATCH_ROUTE for r in batches)
    assert all(r.count == 100 for r in batches[:-1]) and 0 < batches[-1].count <= 100
    assert len(orjson.loads(batches[0].body)["events"]) == 100
    singles = [r for r in requests if not r.batch]
    assert all(r.count == 1 and r.path == ROUTES[r.stream] for r in singles)
    zipped = list(pack(items[:50], batch=1, compress=True))
    assert all(not r.batch for r in zipped)
    assert orjson.loads(gzip.decompress(zipped[0].body)) == items[0].body


LMS_RUN = LoadOptions(seed=6, history_days=21, lms_students=80, lms_courses=3, now=NOW, batch=50)


def test_learning_platform_streams_are_batched_per_stream_and_retries_counted() -> None:
    items = [Item(i.stream, i.body) for i in platform_for(LMS_RUN).items]
    requests = list(pack(items, batch=50, compress=False))
    assert sum(r.count for r in requests) == len(items)
    assert {r.path for r in requests} == {f"{LMS_ROUTES[s]}/batch" for s in LMS_STREAMS}
    assert all(r.batch and r.path == BATCH_ROUTES[r.stream] for r in requests)
    sent = [body for r in requests for body in orjson.loads(r.body)["events"]]
    assert sorted(map(orjson.dumps, sent)) == sorted(orjson.dumps(i.body) for i in items)
    ids = Counter(i.body["id"] for i in items if "id" in i.body)
    assert sum(r.repeats for r in requests) == sum(n - 1 for n in ids.values()) > 0
    # a batch stays in delivery order, and a partial batch of a rare stream is not held back for long
    for request in requests:
        bodies = [orjson.dumps(b) for b in orjson.loads(request.body)["events"]]
        own = [orjson.dumps(i.body) for i in items if i.stream is request.stream]
        start = own.index(bodies[0])
        assert own[start : start + len(bodies)] == bodies
    singles = list(pack(items[:20], batch=1, compress=False))
    assert all(not r.batch and r.path == ROUTES[r.stream] == LMS_ROUTES[r.stream] for r in singles)


def test_a_run_sends_the_learning_platform_whole_beside_the_product_traffic() -> None:
    platform = platform_for(LMS_RUN)
    times = sorted(datetime.fromisoformat(i.body["timestamp"]) for i in platform.items)
    # a term of --history days ending at the start of today (2026-11-06 to 27), synced a week before it
    assert datetime(2026, 10, 30, tzinfo=UTC) < times[0] < datetime(2026, 11, 6, tzinfo=UTC)
    assert datetime(2026, 11, 26, tzinfo=UTC) < times[-1] < datetime(2026, 11, 27, tzinfo=UTC)
    lms_only = LoadOptions(**{**LMS_RUN.__dict__, "streams": frozenset(LMS_STREAMS), "batch": 1})
    sent = [orjson.loads(r.body) for r in _requests(lms_only)]
    assert sent == [i.body for i in platform.items]  # finite: the run ends once the platform is sent
    activity = frozenset({Stream.LMS_ACTIVITY, Stream.USAGE})
    mixed = list(
        _requests(LoadOptions(**{**LMS_RUN.__dict__, "streams": activity, "batch": 1, "sessions": 5}))
    )
    streams = Counter(r.stream for r in mixed)
    assert set(streams) == activity
    assert streams[Stream.LMS_ACTIVITY] == sum(1 for i in platform.items if i.stream is Stream.LMS_ACTIVITY)
    assert [r.stream for r in mixed[:4]] == [Stream.USAGE, Stream.LMS_ACTIVITY] * 2  # one of each in turn
