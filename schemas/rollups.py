"""Rollups, declared once: the stream processors write them and the query API reads them from here.

The model (feeds, measures, DDL) is :mod:`schemas.rollup_model`; this module declares the product-analytics
feeds and rollups and, through :mod:`schemas.lms_rollups`, the learning platform's: :data:`FEEDS` and
:data:`ROLLUPS` hold every one.
"""

from __future__ import annotations

from collections.abc import Iterator

from schemas.lms_rollups import LMS_FEEDS, LMS_ROLLUPS
from schemas.rollup_model import (  # the model is re-exported: long imported from here
    _BUCKETS as _BUCKETS,
)
from schemas.rollup_model import (
    ALL_GRAINS as ALL_GRAINS,
)
from schemas.rollup_model import (
    GRAIN_TYPE as GRAIN_TYPE,
)
from schemas.rollup_model import (
    QUANTILES as QUANTILES,
)
from schemas.rollup_model import (
    Column as Column,
)
from schemas.rollup_model import (
    Feed as Feed,
)
from schemas.rollup_model import (
    Grain as Grain,
)
from schemas.rollup_model import (
    Measure as Measure,
)
from schemas.rollup_model import (
    Rollup as Rollup,
)
from schemas.rollup_model import (
    _cols as _cols,
)
from schemas.rollup_model import (
    buckets as buckets,
)
from schemas.rollup_model import (
    date_buckets as date_buckets,
)
from schemas.rollup_model import (
    feed_ddl as feed_ddl,
)
from schemas.rollup_model import (
    grain_condition as grain_condition,
)
from schemas.rollup_model import (
    table_ddl as table_ddl,
)
from schemas.rollup_model import (
    view_ddl as view_ddl,
)
from schemas.topics import Stream

EVENTS_FEED = Feed(
    "feed_events",
    Stream.EVENTS,
    _cols(
        _BUCKETS
        + """
event_type LowCardinality(String)
event_category LowCardinality(String)
event_name LowCardinality(String)
session_id String
page String
is_page_view UInt8
"""
    ),
)

PERFORMANCE_METRICS = (
    "page_load_time",
    "time_to_first_byte",
    "first_contentful_paint",
    "largest_contentful_paint",
    "first_input_delay",
    "total_blocking_time",
    "cumulative_layout_shift",
)

PERFORMANCE_FEED = Feed(
    "feed_performance",
    Stream.PERFORMANCE,
    _cols(_BUCKETS + "page String\n" + "\n".join(f"{m} Float64" for m in PERFORMANCE_METRICS)),
)

USAGE_FEED = Feed(
    "feed_usage",
    Stream.USAGE,
    _cols(
        _BUCKETS
        + """
date Date
received_at DateTime64(3, 'UTC')
session_count UInt32
total_session_duration UInt32
page_views UInt32
unique_pages_visited UInt32
engagement_score Float64
feature_uses Map(String, UInt64)
features_recorded UInt8
"""
    ),
)
"""A day's summary with its features' usage counts by name (summed over categories), so the newest
summary of a day replaces its features with it; ``features_recorded`` is 1 on every row written since
``feature_uses`` existed (migration 0017), 0 on rows stored before."""

USAGE_FEATURES_FEED = Feed(
    "feed_usage_features",
    Stream.USAGE,
    _cols(
        _BUCKETS
        + """
date Date
received_at DateTime64(3, 'UTC')
feature_name String
category LowCardinality(String)
usage_count UInt32
total_time_spent UInt32
"""
    ),
)

ACTIVITIES_FEED = Feed(
    "feed_activities",
    Stream.ACTIVITIES,
    _cols(
        _BUCKETS
        + """
activity_type LowCardinality(String)
activity_category LowCardinality(String)
severity LowCardinality(String)
"""
    ),
)

PRODUCT_FEEDS = (EVENTS_FEED, PERFORMANCE_FEED, USAGE_FEED, USAGE_FEATURES_FEED, ACTIVITIES_FEED)


PRODUCT_ROLLUPS: tuple[Rollup, ...] = (
    Rollup(
        "user_events",
        EVENTS_FEED,
        ("tenant_id", "user_id", "event_type", "event_category", "event_name"),
        (Measure("events", "count"), Measure("sessions", "uniq_exact", "session_id")),
        description="events per user by type, category and name; unique sessions",
    ),
    Rollup(
        "page_views",
        EVENTS_FEED,
        ("tenant_id", "user_id", "page"),
        (Measure("views", "count"), Measure("sessions", "uniq_exact", "session_id")),
        where="is_page_view = 1",
        description="page views per user and page; unique viewing sessions (viewers = distinct users)",
    ),
    Rollup(
        "session_pages",
        EVENTS_FEED,
        ("tenant_id", "user_id", "session_id"),
        (
            Measure("events", "count"),
            Measure("page_views", "sum", "is_page_view"),
            Measure("errors", "count", condition="event_type = 'error_event'"),
            Measure("views_by_page", "count_by", "page", condition="is_page_view = 1"),
            Measure("events_by_name", "count_by", "event_name"),
        ),
        grains=(Grain.DAY,),
        description="per-session event, page-view and error counts per day, with page views by page and "
        "events by name (bounce rate: sessions with at most one view; the dashboard's event, page and "
        "session figures in one read, ADR 0011); daily only: a session rarely spans days, so weekly and "
        "monthly rows would repeat them",
    ),
    Rollup(
        "user_performance",
        PERFORMANCE_FEED,
        ("tenant_id", "user_id", "page"),
        (
            Measure("samples", "count"),
            *(Measure(f"avg_{m}", "avg", m) for m in PERFORMANCE_METRICS),
            *(Measure(f"q_{m}", "quantiles", m) for m in PERFORMANCE_METRICS),
        ),
        description="performance per user and page: count, mean and p50/p75/p95 of every web vital",
    ),
    Rollup(
        "user_usage",
        USAGE_FEED,
        ("tenant_id", "user_id", "date"),
        (
            *(
                Measure(m, "value", m)
                for m in (
                    "session_count",
                    "total_session_duration",
                    "page_views",
                    "unique_pages_visited",
                    "engagement_score",
                )
            ),
            Measure("feature_uses", "value_map", "feature_uses"),
            Measure("features_recorded", "value", "features_recorded"),
        ),
        replacing_version="received_at",
        description="daily usage summaries per user (latest per day wins, with its features' usage counts: "
        "the dashboard's usage in one read, ADR 0011), bucketed by week and month",
    ),
    Rollup(
        "feature_usage",
        USAGE_FEATURES_FEED,
        ("tenant_id", "user_id", "date", "feature_name", "category"),
        (
            Measure("usage_count", "value", "usage_count"),
            Measure("total_time_spent", "value", "total_time_spent"),
        ),
        replacing_version="received_at",
        description="per-feature usage counts and time per user and day (latest per day wins)",
    ),
    Rollup(
        "user_activities",
        ACTIVITIES_FEED,
        ("tenant_id", "user_id", "activity_type", "activity_category", "severity"),
        (Measure("activities", "count"),),
        description="activities per user by type, category and severity",
    ),
)

FEEDS = (*PRODUCT_FEEDS, *LMS_FEEDS)
ROLLUPS: tuple[Rollup, ...] = (*PRODUCT_ROLLUPS, *LMS_ROLLUPS)


def rollup(name: str) -> Rollup:
    return next(r for r in ROLLUPS if r.name == name)


def all_ddl() -> Iterator[str]:
    """Every statement creating the feeds, rollup tables and views, in dependency order."""
    for feed in FEEDS:
        yield feed_ddl(feed)
    yield from rollup_ddl()


def rollup_ddl() -> Iterator[str]:
    """The rollup tables and their views (the feeds exist since migration 0006)."""
    for item in ROLLUPS:
        yield table_ddl(item)
        yield view_ddl(item)


if __name__ == "__main__":  # python -m schemas.rollups: the current DDL, to start a new migration from
    for statement in all_ddl():
        print(statement + ";\n")
