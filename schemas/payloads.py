"""HTTP request bodies of the product-analytics seed's ingestion endpoints, with our validation limits.

String lengths follow the seed's column types (``VARCHAR(36)`` ids, ``VARCHAR(255)`` names,
``VARCHAR(45)`` IP addresses); numbers must be in ranges that make sense (no negative durations, CLS
0–100 with 3 decimals, scores in range); free-form JSON is bounded by :mod:`schemas.json_limits`.
Unknown fields are refused so a misspelt field is an error the client sees, not silently lost data.

Optional fields that are not in the seed's request bodies, added for the pipeline:
``id`` (client-chosen event id, deduplicates retries), ``timestamp`` (event time, for offline clients and
imports), ``sent_at`` (the client's clock when sending, to correct clock skew), and ``page`` on
performance metrics (per-page performance rollups).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import lru_cache
from ipaddress import ip_address
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from schemas.enums import (
    ActivityCategory,
    ActivityType,
    EventCategory,
    EventSource,
    EventType,
    Platform,
    Severity,
)
from schemas.json_limits import JSONList, JSONObject
from schemas.topics import Stream

MAX_DURATION_MS = 24 * 60 * 60 * 1000
"""Upper bound of any duration measured in milliseconds (web-vitals timings)."""
MAX_DURATION_S = 7 * 24 * 60 * 60
"""Upper bound of usage durations measured in seconds."""
MAX_COUNT = 10_000_000


@lru_cache(maxsize=65_536)
def _check_ip(value: str) -> str:
    """Parsing is the costly part of validating an event and a user's address repeats, so valid ones are
    remembered (invalid ones raise each time and are not cached)."""
    ip_address(value)  # raises ValueError with a clear message
    return value


ID_CLASS = r"[^\x00-\x1f\x7f/]"
"""A character of a user, session or tenant id: ids are read back through URL paths
(``/analytics/dashboard/{user_id}``), so no '/' and no control characters."""
ID_CHARACTERS = re.compile(f"{ID_CLASS}+")
MAX_TENANT_ID_LENGTH = 64
Identifier = Annotated[str, Field(min_length=1, max_length=36, pattern=f"^{ID_CLASS}+$")]


def is_tenant_id(value: str) -> bool:
    """The one rule for tenant ids, whether they come from a token or an API key."""
    return 0 < len(value) <= MAX_TENANT_ID_LENGTH and ID_CHARACTERS.fullmatch(value) is not None


Name = Annotated[str, Field(min_length=1, max_length=255)]
IPAddress = Annotated[str, Field(max_length=45), AfterValidator(_check_ip)]
UserAgent = Annotated[str, Field(max_length=2048)]
Text = Annotated[str, Field(min_length=1, max_length=10_000)]
DurationMs = Annotated[int, Field(ge=0, le=MAX_DURATION_MS)]
DurationS = Annotated[int, Field(ge=0, le=MAX_DURATION_S)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
EventTime = Annotated[AwareDatetime, Field(description="ISO-8601 with a time zone")]


class _Payload(BaseModel):
    # use_enum_values: validated enums are stored as their plain strings, which serialize faster
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)

    id: UUID | None = Field(default=None, description="client-chosen event id; resending it deduplicates")


class _TimedPayload(_Payload):
    timestamp: EventTime | None = Field(default=None, description="when it happened; default: when received")
    sent_at: EventTime | None = Field(
        default=None, description="client clock when sending; corrects clock skew"
    )


class AnalyticsEventCreate(_TimedPayload):
    """``POST /analytics/events`` and each item of ``POST /analytics/events/batch``."""

    user_id: Identifier
    session_id: Identifier
    event_type: EventType
    event_name: Name
    event_category: EventCategory
    properties: JSONObject = Field(default_factory=dict)
    source: EventSource
    platform: Platform
    user_agent: UserAgent | None = None
    ip_address: IPAddress | None = None
    location: JSONObject | None = None


class AnalyticsEventBatchCreate(BaseModel):
    """``POST /analytics/events/batch`` (documentation model; items are validated one by one)."""

    model_config = ConfigDict(extra="forbid")

    events: list[AnalyticsEventCreate] = Field(min_length=1, max_length=1000)


class PerformanceMetricCreate(_TimedPayload):
    """``POST /analytics/performance``: one page load's web vitals (milliseconds; CLS unitless)."""

    user_id: Identifier
    session_id: Identifier
    page: Annotated[str, Field(max_length=2048)] | None = None
    page_load_time: DurationMs
    time_to_first_byte: DurationMs
    first_contentful_paint: DurationMs
    largest_contentful_paint: DurationMs
    cumulative_layout_shift: Annotated[Decimal, Field(ge=0, le=100, decimal_places=3)]
    first_input_delay: DurationMs
    total_blocking_time: DurationMs
    memory_usage: JSONObject | None = None
    network_info: JSONObject | None = None
    device_info: JSONObject | None = None
    custom_metrics: JSONObject | None = None


class FeatureUsage(BaseModel):
    """One item of ``features_used`` in a usage summary."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)

    feature_name: Name
    category: Annotated[str, Field(min_length=1, max_length=64)]
    usage_count: Count
    total_time_spent: DurationS = 0
    last_used: AwareDatetime | None = None
    proficiency_score: Annotated[float, Field(ge=0, le=1)] | None = None


class UsageMetricCreate(_Payload):
    """``POST /analytics/usage``: a user's usage summary for one day (durations in seconds)."""

    user_id: Identifier
    date: date
    session_count: Count = 0
    total_session_duration: DurationS = 0
    average_session_duration: DurationS = 0
    page_views: Count = 0
    unique_pages_visited: Count = 0
    features_used: Annotated[list[FeatureUsage], Field(max_length=200)] = Field(default_factory=list)
    engagement_score: Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)] = Decimal(0)
    retention_data: JSONObject | None = None
    conversion_data: JSONObject | None = None
    user_flow: JSONList | None = None


class ActivityLogCreate(_TimedPayload):
    """``POST /analytics/activities``."""

    user_id: Identifier
    session_id: Identifier
    activity_type: ActivityType
    activity_category: ActivityCategory
    description: Text
    details: JSONObject | None = None
    metadata: JSONObject | None = None
    severity: Severity
    tags: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=50)] = Field(
        default_factory=list
    )


PAYLOAD_MODELS: dict[Stream, type[_Payload]] = {
    Stream.EVENTS: AnalyticsEventCreate,
    Stream.PERFORMANCE: PerformanceMetricCreate,
    Stream.USAGE: UsageMetricCreate,
    Stream.ACTIVITIES: ActivityLogCreate,
}
"""The request model of each stream's single-item endpoint."""

__all__ = [
    "PAYLOAD_MODELS",
    "ActivityLogCreate",
    "AnalyticsEventBatchCreate",
    "AnalyticsEventCreate",
    "FeatureUsage",
    "PerformanceMetricCreate",
    "UsageMetricCreate",
]
