"""The rollup feeds re-derived in SQL from the raw tables, for ranges too short for day buckets.

``last_24_hours`` is served from raw rows inside that bounded window: each feed's columns are computed
from its raw table exactly as :mod:`schemas.rows` computes them from events, and the
rollup's own aggregate expressions (:meth:`schemas.rollups.Measure.aggregate_expression`) are applied, so
the readers' merge SQL is the same for both sources. A test compares both sources over whole days.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.rollups import (
    ACTIVITIES_FEED,
    EVENTS_FEED,
    PERFORMANCE_FEED,
    PERFORMANCE_METRICS,
    USAGE_FEATURES_FEED,
    USAGE_FEED,
    Feed,
)
from schemas.rows import MAX_PAGE_LENGTH, PAGE_VIEW


@dataclass(frozen=True)
class RawFeed:
    """How to select a feed's columns from its raw table; ``timed`` feeds filter on ``timestamp``,
    the others (daily usage summaries) on ``date``."""

    table: str
    columns: dict[str, str]
    timed: bool = True
    array_join: str = ""


_USAGE_COMMON = {"tenant_id": "tenant_id", "user_id": "user_id", "date": "date", "received_at": "received_at"}

RAW_FEEDS: dict[str, RawFeed] = {
    EVENTS_FEED.table: RawFeed(
        "analytics_events",
        {
            "tenant_id": "tenant_id",
            "user_id": "user_id",
            "event_type": "toString(event_type)",
            "event_category": "toString(event_category)",
            "event_name": "event_name",
            "session_id": "session_id",
            "page": f"leftUTF8(JSONExtractString(properties, 'page'), {MAX_PAGE_LENGTH})",
            "is_page_view": f"toUInt8(event_name = '{PAGE_VIEW}')",
        },
    ),
    PERFORMANCE_FEED.table: RawFeed(
        "performance_metrics",
        {
            "tenant_id": "tenant_id",
            "user_id": "user_id",
            "page": "page",
            **{metric: f"toFloat64({metric})" for metric in PERFORMANCE_METRICS},
        },
    ),
    USAGE_FEED.table: RawFeed(
        "usage_metrics",
        {
            **_USAGE_COMMON,
            "session_count": "session_count",
            "total_session_duration": "total_session_duration",
            "page_views": "page_views",
            "unique_pages_visited": "unique_pages_visited",
            "engagement_score": "toFloat64(engagement_score)",
            # a feature reported in two categories is one key: sumMap adds its counts up
            "feature_uses": "arrayReduce('sumMap', [mapFromArrays("
            "arrayMap(f -> JSONExtractString(f, 'feature_name'), JSONExtractArrayRaw(features_used)), "
            "arrayMap(f -> JSONExtractUInt(f, 'usage_count'), JSONExtractArrayRaw(features_used)))])",
            "features_recorded": "toUInt8(1)",
        },
        timed=False,
    ),
    USAGE_FEATURES_FEED.table: RawFeed(
        "usage_metrics",
        {
            **_USAGE_COMMON,
            "feature_name": "JSONExtractString(feature, 'feature_name')",
            "category": "JSONExtractString(feature, 'category')",
            "usage_count": "JSONExtractUInt(feature, 'usage_count')",
            "total_time_spent": "JSONExtractUInt(feature, 'total_time_spent')",
        },
        timed=False,
        array_join="ARRAY JOIN JSONExtractArrayRaw(features_used) AS feature",
    ),
    ACTIVITIES_FEED.table: RawFeed(
        "activity_logs",
        {
            "tenant_id": "tenant_id",
            "user_id": "user_id",
            "activity_type": "toString(activity_type)",
            "activity_category": "toString(activity_category)",
            "severity": "toString(severity)",
        },
    ),
}


def raw_feed(feed: Feed) -> RawFeed:
    raw = RAW_FEEDS[feed.table]
    missing = {c.name for c in feed.columns} - {"day", "week", "month"} - set(raw.columns)
    assert not missing, f"raw derivation of {feed.table} lacks {missing}"
    return raw
