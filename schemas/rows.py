"""Pure transforms: validated events → rows of ClickHouse tables. No I/O, deterministic (a re-formed batch
must yield the very same rows), tested over every example payload.

Rows are built as tuples and turned column-oriented once per batch (:class:`TableBatch`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from schemas.lms_rows import LMS_FEED_ROWS, LMS_RAW_COLUMNS, LMS_RAW_TABLES, lms_raw_rows
from schemas.messages import (
    ActivityLogMessage,
    AnalyticsEventMessage,
    PerformanceMetricMessage,
    UsageMetricMessage,
)
from schemas.rollups import (
    ACTIVITIES_FEED,
    EVENTS_FEED,
    PERFORMANCE_FEED,
    PERFORMANCE_METRICS,
    USAGE_FEATURES_FEED,
    USAGE_FEED,
    buckets,
    date_buckets,
)
from schemas.table_batch import TableBatch as TableBatch  # re-exported: long imported from here
from schemas.table_batch import ZoneFor as ZoneFor
from schemas.table_batch import json_text as _json
from schemas.topics import Stream

PAGE_VIEW = "page_view"
"""The ``event_name`` that counts as a page view (its page is ``properties.page``)."""
MAX_PAGE_LENGTH = 2048


# ---- raw tables ----------------------------------------------------------------------------------------

PRODUCT_RAW_TABLES = {
    Stream.EVENTS: "analytics_events",
    Stream.PERFORMANCE: "performance_metrics",
    Stream.USAGE: "usage_metrics",
    Stream.ACTIVITIES: "activity_logs",
}
"""The product-analytics streams' raw tables."""
RAW_TABLES = {**PRODUCT_RAW_TABLES, **LMS_RAW_TABLES}
"""Every stream's raw table (the LMS streams': :mod:`schemas.lms_rows`; the entity stream also writes the
current-state tables, which are not raw tables)."""

_SERVER = ["sent_at", "received_at", "time_clamped", "schema_version"]
RAW_COLUMNS: dict[Stream, list[str]] = {
    Stream.EVENTS: [
        "tenant_id",
        "id",
        "user_id",
        "session_id",
        "event_type",
        "event_name",
        "event_category",
        "properties",
        "timestamp",
        "source",
        "platform",
        "user_agent",
        "ip_address",
        "browser",  # browser ... device: parsed from the user agent by the gateway (privacy.policy)
        "browser_version",
        "os",
        "os_version",
        "device",
        "location",
        *_SERVER,
    ],
    Stream.PERFORMANCE: [
        "tenant_id",
        "id",
        "user_id",
        "session_id",
        "timestamp",
        "page",
        *PERFORMANCE_METRICS,
        "memory_usage",
        "network_info",
        "device_info",
        "custom_metrics",
        *_SERVER,
    ],
    Stream.USAGE: [
        "tenant_id",
        "id",
        "user_id",
        "date",
        "session_count",
        "total_session_duration",
        "average_session_duration",
        "page_views",
        "unique_pages_visited",
        "features_used",
        "engagement_score",
        "retention_data",
        "conversion_data",
        "user_flow",
        "received_at",
        "schema_version",
    ],
    Stream.ACTIVITIES: [
        "tenant_id",
        "id",
        "user_id",
        "session_id",
        "timestamp",
        "activity_type",
        "activity_category",
        "description",
        "details",
        "metadata",
        "severity",
        "tags",
        *_SERVER,
    ],
    **LMS_RAW_COLUMNS,
}


def _raw_event(m: AnalyticsEventMessage) -> tuple[Any, ...]:
    return (
        m.tenant_id,
        m.id,
        m.user_id,
        m.session_id,
        m.event_type,
        m.event_name,
        m.event_category,
        _json(m.properties),
        m.timestamp,
        m.source,
        m.platform,
        m.user_agent or "",
        m.ip_address or "",
        m.browser or "",
        m.browser_version or "",
        m.os or "",
        m.os_version or "",
        m.device or "",
        _json(m.location),
        m.sent_at,
        m.received_at,
        m.time_clamped,
        m.schema_version,
    )


def _raw_performance(m: PerformanceMetricMessage) -> tuple[Any, ...]:
    return (
        m.tenant_id,
        m.id,
        m.user_id,
        m.session_id,
        m.timestamp,
        m.page or "",
        m.page_load_time,
        m.time_to_first_byte,
        m.first_contentful_paint,
        m.largest_contentful_paint,
        m.first_input_delay,
        m.total_blocking_time,
        m.cumulative_layout_shift,
        _json(m.memory_usage),
        _json(m.network_info),
        _json(m.device_info),
        _json(m.custom_metrics),
        m.sent_at,
        m.received_at,
        m.time_clamped,
        m.schema_version,
    )


def _raw_usage(m: UsageMetricMessage) -> tuple[Any, ...]:
    features = [f.model_dump(mode="json") for f in m.features_used]
    return (
        m.tenant_id,
        m.id,
        m.user_id,
        m.date,
        m.session_count,
        m.total_session_duration,
        m.average_session_duration,
        m.page_views,
        m.unique_pages_visited,
        _json(features),
        m.engagement_score,
        _json(m.retention_data),
        _json(m.conversion_data),
        _json(m.user_flow),
        m.received_at,
        m.schema_version,
    )


def _raw_activity(m: ActivityLogMessage) -> tuple[Any, ...]:
    return (
        m.tenant_id,
        m.id,
        m.user_id,
        m.session_id,
        m.timestamp,
        m.activity_type,
        m.activity_category,
        m.description,
        _json(m.details),
        _json(m.metadata),
        m.severity,
        list(m.tags),
        m.sent_at,
        m.received_at,
        m.time_clamped,
        m.schema_version,
    )


_RAW_ROW: dict[Stream, Callable[[Any], tuple[Any, ...]]] = {
    Stream.EVENTS: _raw_event,
    Stream.PERFORMANCE: _raw_performance,
    Stream.USAGE: _raw_usage,
    Stream.ACTIVITIES: _raw_activity,
}


def raw_rows(stream: Stream, events: Sequence[Any]) -> list[TableBatch]:
    """The raw table rows of ``events`` (validated ``*Message`` models of ``stream``); for LMS entity upserts
    also their current-state tables' rows (:func:`schemas.lms_rows.lms_raw_rows`)."""
    if stream in LMS_RAW_TABLES:
        return lms_raw_rows(stream, events)
    to_row = _RAW_ROW[stream]
    return [TableBatch.from_rows(RAW_TABLES[stream], RAW_COLUMNS[stream], [to_row(e) for e in events])]


# ---- rollup feeds --------------------------------------------------------------------------------------


def page_of(properties: dict[str, Any]) -> str:
    page = properties.get("page")
    return page[:MAX_PAGE_LENGTH] if isinstance(page, str) else ""


def _events_feed(events: Sequence[AnalyticsEventMessage], zone_for: ZoneFor) -> list[TableBatch]:
    rows = [
        (
            m.tenant_id,
            m.user_id,
            *buckets(m.timestamp, zone_for(m.tenant_id)),
            m.event_type,
            m.event_category,
            m.event_name,
            m.session_id,
            page_of(m.properties),
            1 if m.event_name == PAGE_VIEW else 0,
        )
        for m in events
    ]
    return [TableBatch.from_rows(EVENTS_FEED.table, EVENTS_FEED.column_names, rows)]


def _performance_feed(events: Sequence[PerformanceMetricMessage], zone_for: ZoneFor) -> list[TableBatch]:
    rows = [
        (
            m.tenant_id,
            m.user_id,
            *buckets(m.timestamp, zone_for(m.tenant_id)),
            m.page or "",
            float(m.page_load_time),
            float(m.time_to_first_byte),
            float(m.first_contentful_paint),
            float(m.largest_contentful_paint),
            float(m.first_input_delay),
            float(m.total_blocking_time),
            float(m.cumulative_layout_shift),
        )
        for m in events
    ]
    return [TableBatch.from_rows(PERFORMANCE_FEED.table, PERFORMANCE_FEED.column_names, rows)]


def feature_uses(summary: UsageMetricMessage) -> dict[str, int]:
    """Usage counts by feature name, summed over the categories a feature was reported in."""
    uses: dict[str, int] = {}
    for feature in summary.features_used:
        uses[feature.feature_name] = uses.get(feature.feature_name, 0) + feature.usage_count
    return uses


def _usage_feed(events: Sequence[UsageMetricMessage], zone_for: ZoneFor) -> list[TableBatch]:
    """Usage summaries are per calendar ``date`` already (the client's day), so no zone conversion."""
    summaries = [
        (
            m.tenant_id,
            m.user_id,
            *date_buckets(m.date),
            m.date,
            m.received_at,
            m.session_count,
            m.total_session_duration,
            m.page_views,
            m.unique_pages_visited,
            float(m.engagement_score),
            feature_uses(m),
            1,
        )
        for m in events
    ]
    features = [
        (
            m.tenant_id,
            m.user_id,
            *date_buckets(m.date),
            m.date,
            m.received_at,
            f.feature_name,
            f.category,
            f.usage_count,
            f.total_time_spent,
        )
        for m in events
        for f in m.features_used
    ]
    return [
        TableBatch.from_rows(USAGE_FEED.table, USAGE_FEED.column_names, summaries),
        TableBatch.from_rows(USAGE_FEATURES_FEED.table, USAGE_FEATURES_FEED.column_names, features),
    ]


def _activities_feed(events: Sequence[ActivityLogMessage], zone_for: ZoneFor) -> list[TableBatch]:
    rows = [
        (
            m.tenant_id,
            m.user_id,
            *buckets(m.timestamp, zone_for(m.tenant_id)),
            m.activity_type,
            m.activity_category,
            m.severity,
        )
        for m in events
    ]
    return [TableBatch.from_rows(ACTIVITIES_FEED.table, ACTIVITIES_FEED.column_names, rows)]


_FEED: dict[Stream, Callable[[Any, ZoneFor], list[TableBatch]]] = {
    Stream.EVENTS: _events_feed,
    Stream.PERFORMANCE: _performance_feed,
    Stream.USAGE: _usage_feed,
    Stream.ACTIVITIES: _activities_feed,
    **LMS_FEED_ROWS,
}


def feed_rows(stream: Stream, events: Sequence[Any], zone_for: ZoneFor) -> list[TableBatch]:
    """The rollup feed rows of ``events``; the feeds' materialized views aggregate them."""
    return _FEED[stream](events, zone_for)
