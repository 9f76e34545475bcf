"""One tenant's platform telemetry (``lms_telemetry``) over the term, driven by its learning activity.

Web nodes (``web-1``, and ``web-2`` on larger platforms) report a traffic and an uptime sample every six
hours (UTC-aligned); a sample's ``timestamp`` is the start of the interval it covers. Requests follow the
activity of the interval (each activity event stands for a few dozen HTTP requests, plus background
traffic), split between the nodes; video watching adds bytes. Latency is a histogram over the contract's
fixed buckets with its sum; 5xx errors are rare except during one incident per node, when the node is also
partly down. Geography follows the tenant's audience (by its zone). The store (``store-1``) reports the
storage level once a day: it grows with the course library and submissions and drops once after a
clean-up. A few samples reach analytics a day late (a collector backlog).
"""

from __future__ import annotations

import random
from typing import Any

from loadgen.lms_catalog import Catalog
from loadgen.lms_feed import DAY_S, HOUR_S, Feed, ms
from schemas.lms_payloads import LATENCY_BOUNDS_MS
from schemas.topics import Stream

SAMPLE_S = 6 * 3600
"""Interval of traffic and uptime samples."""
REQUESTS_PER_EVENT = 28
BACKGROUND_REQUESTS = 150
"""Requests per interval without any learner (health checks, crawlers, API clients)."""
LATE_SAMPLE_SHARE = 0.01
_LATENCY_SHARE = (0.32, 0.26, 0.2, 0.12, 0.06, 0.025, 0.01, 0.004, 0.001)
_INCIDENT_LATENCY_SHARE = (0.1, 0.12, 0.18, 0.2, 0.15, 0.1, 0.08, 0.05, 0.02)
_LATENCY_TYPICAL_MS = (12.0, 37.0, 75.0, 170.0, 360.0, 720.0, 1700.0, 3600.0, 7200.0)

# (country share, {region: share of the country}) by the tenant's zone; other zones get _GLOBAL.
_AUDIENCES: dict[str, dict[str, tuple[float, dict[str, float]]]] = {
    "America/Chicago": {
        "US": (0.86, {"US-IL": 0.5, "US-WI": 0.15, "US-IN": 0.1, "US-MI": 0.1}),
        "CA": (0.08, {"CA-ON": 0.7}),
        "MX": (0.06, {"MX-NLE": 0.5, "MX-JAL": 0.3}),
    },
    "UTC": {
        "GB": (0.4, {"GB-ENG": 0.8, "GB-SCT": 0.15}),
        "NG": (0.2, {"NG-LA": 0.6}),
        "DE": (0.15, {"DE-BE": 0.4, "DE-BY": 0.3}),
        "IE": (0.1, {"IE-D": 0.7}),
        "GH": (0.1, {"GH-AA": 0.8}),
        "ZA": (0.05, {"ZA-GP": 0.7}),
    },
    "Asia/Kolkata": {
        "IN": (0.9, {"IN-MH": 0.35, "IN-KA": 0.25, "IN-DL": 0.2, "IN-TN": 0.1}),
        "AE": (0.05, {"AE-DU": 0.8}),
        "SG": (0.05, {"SG-01": 1.0}),
    },
}
_GLOBAL = {
    "US": (0.35, {"US-CA": 0.3, "US-NY": 0.2}),
    "GB": (0.2, {"GB-ENG": 0.85}),
    "IN": (0.2, {"IN-MH": 0.4}),
    "DE": (0.15, {"DE-BE": 0.5}),
    "BR": (0.1, {"BR-SP": 0.6}),
}


def _split(total: int, shares: tuple[float, ...] | list[float], rng: random.Random) -> list[int]:
    """``total`` split by ``shares`` with a little noise; the parts add up to ``total`` exactly."""
    noisy = [share * rng.uniform(0.85, 1.15) for share in shares]
    scale = sum(noisy)
    parts = [int(total * share / scale) for share in noisy]
    parts[0] += total - sum(parts)
    return parts


def web_sources(catalog: Catalog) -> tuple[str, ...]:
    return ("web-1", "web-2") if len(catalog.students) >= 120 else ("web-1",)


def emit_telemetry(feed: Feed, catalog: Catalog, rng: random.Random) -> None:
    start = -int(-catalog.term_start // SAMPLE_S) * SAMPLE_S  # the first whole interval in the term
    windows = range(start, int(catalog.term_end) - SAMPLE_S + 1, SAMPLE_S)
    events = dict.fromkeys(windows, 0)
    watched = dict.fromkeys(windows, 0)
    for at, seconds in feed.activity_times:
        window = int(at // SAMPLE_S) * SAMPLE_S
        if window in events:
            events[window] += 1
            watched[window] += seconds
    audience = _AUDIENCES.get(str(feed.zone), _GLOBAL)
    sources = web_sources(catalog)
    shares = (0.6, 0.4) if len(sources) == 2 else (1.0,)
    for source, share in zip(sources, shares, strict=True):
        incident = rng.choice(list(windows))
        for window in windows:
            requests = round(
                (events[window] * REQUESTS_PER_EVENT + BACKGROUND_REQUESTS) * share * rng.uniform(0.9, 1.1)
            )
            body = _traffic(
                feed, rng, audience, source, window, requests, watched[window] * share, window == incident
            )
            down = rng.randint(600, 5400) if window == incident else 0
            uptime = {**_sample(feed, "uptime", source, window, SAMPLE_S), "up_seconds": SAMPLE_S - down}
            late = DAY_S if rng.random() < LATE_SAMPLE_SHARE else 0.0
            feed.add(Stream.LMS_TELEMETRY, body, window, SAMPLE_S + 5 + late)
            feed.add(Stream.LMS_TELEMETRY, uptime, window, SAMPLE_S + 5 + late)
    _storage(feed, catalog, rng)


def _sample(feed: Feed, kind: str, source: str, at: float, interval: int) -> dict[str, Any]:
    return {"type": kind, "timestamp": feed.time(at), "source": source, "interval_seconds": interval}


def _traffic(
    feed: Feed,
    rng: random.Random,
    audience: dict[str, tuple[float, dict[str, float]]],
    source: str,
    window: float,
    requests: int,
    watched_seconds: float,
    incident: bool,
) -> dict[str, Any]:
    error_rate = rng.uniform(0.04, 0.1) if incident else rng.uniform(0.0005, 0.005)
    shares = _INCIDENT_LATENCY_SHARE if incident else _LATENCY_SHARE
    histogram = _split(requests, shares, rng)
    latency_sum = sum(
        count * typical * rng.uniform(0.9, 1.1)
        for count, typical in zip(histogram, _LATENCY_TYPICAL_MS, strict=True)
    )
    countries = _split(requests, [share for share, _ in audience.values()], rng)
    by_region: dict[str, int] = {}
    for country_count, (_, regions) in zip(countries, audience.values(), strict=True):
        for region, share in regions.items():
            by_region[region] = int(country_count * share * rng.uniform(0.9, 1.0))
    return {
        **_sample(feed, "traffic", source, window, SAMPLE_S),
        "requests": requests,
        "errors": round(requests * error_rate),
        "bytes_served": round(requests * rng.uniform(30_000, 60_000) + watched_seconds * 180_000),
        "latency_ms_sum": round(latency_sum, 1),
        "latency_ms_histogram": {
            bound: count for bound, count in zip(LATENCY_BOUNDS_MS, histogram, strict=True) if count
        },
        "requests_by_country": {
            country: count for country, count in zip(audience, countries, strict=True) if count
        },
        "requests_by_region": {region: count for region, count in by_region.items() if count},
    }


def _storage(feed: Feed, catalog: Catalog, rng: random.Random) -> None:
    """A daily level at 02:00 UTC: the library, plus submissions and uploads, minus one clean-up."""
    library = sum(video.seconds for course in catalog.courses for video in course.videos) * 180_000
    level = library + len(catalog.students) * 40_000_000
    first = int(catalog.term_start // DAY_S) * DAY_S + 2 * HOUR_S
    if first < catalog.term_start:
        first += DAY_S
    days = int((catalog.term_end - first) // DAY_S)
    cleanup = rng.randrange(days // 3, 2 * days // 3) if days >= 3 else -1
    submissions = sorted(at for at, _ in feed.activity_times)
    seen = 0
    for day in range(days):
        at = ms(first + day * DAY_S)
        while seen < len(submissions) and submissions[seen] < at:
            seen += 1
            level += rng.randrange(20_000, 400_000)  # uploads, logs and caches grow with activity
        if day == cleanup:
            level = int(level * 0.85)
        late = DAY_S if rng.random() < LATE_SAMPLE_SHARE else 0.0
        sample = {**_sample(feed, "storage", "store-1", at, 86_400), "storage_used_bytes": level}
        feed.add(Stream.LMS_TELEMETRY, sample, at, 5 + late)
