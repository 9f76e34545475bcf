"""HTTP request bodies of the product-analytics seed's ingestion endpoints, with our validation limits.

String lengths follow the seed's column types (``VARCHAR(36)`` ids, ``VARCHAR(255)`` names,
``VARCHAR(45)`` IP addresses); numbers must be in ranges that make sense (no negative durations, CLS
0–100 stored with 3 decimals, scores in range) and be JSON numbers (no booleans; decimal text only for
the two ``Decimal`` scores); free-form JSON is bounded by :mod:`schemas.json_limits`.
Unknown fields are refused so a misspelt field is an error the client sees, not silently lost data.

Optional fields that are not in the seed's request bodies, added for the pipeline:
``id`` (client-chosen event id, deduplicates retries), ``timestamp`` (event time, for offline clients and
imports), ``sent_at`` (the client's clock when sending, to correct clock skew), and ``page`` on
performance metrics (per-page performance rollups).

Times and dates are ISO-8601 text within the supported range (:mod:`schemas.event_time`); the checks that
need the time of receipt (the skew-corrected time, the tenant's retention) are the gateway's
(``ingest_gateway.stamping``).
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from ipaddress import ip_address
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from schemas.enums import (
    ActivityCategory,
    ActivityType,
    EventCategory,
    EventSource,
    EventType,
    Platform,
    Severity,
)
from schemas.event_time import DAY_RANGE_TEXT, RANGE_TEXT, EventDate, EventTime, IsoDateTime
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
    remembered (invalid ones raise each time and are not cached). An IPv6 zone (``fe80::1%eth0``) names a
    link of the client's own host, meaningless here and not an ``ipv6`` in JSON Schema: refused."""
    if getattr(ip_address(value), "scope_id", None):  # ip_address raises ValueError with a clear message
        raise ValueError(f"{value!r} has an IPv6 zone (%...); send the address alone")
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


YEAR_PATTERN = r"^(197[1-9]|19[89][0-9]|20[0-8][0-9])-"
"""The years of the supported range (:mod:`schemas.event_time`: 1971 to 2089), as a JSON-schema
``pattern`` on a time's text, so clients, generated validators and fuzzers know the range. A date's range
is exactly its year's; a time's is on its UTC instant, so an offset can move a time of 1971-01-01 or
2089-12-31 out of it (refused with ``timestamp_out_of_range``, like every time outside it)."""

Name = Annotated[str, Field(min_length=1, max_length=255)]
IPAddress = Annotated[
    str,
    Field(max_length=45),
    AfterValidator(_check_ip),
    WithJsonSchema({"type": "string", "maxLength": 45, "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}),
]
"""An IPv4 or IPv6 address (no zone), as text."""
UserAgent = Annotated[str, Field(max_length=2048)]
Text = Annotated[str, Field(min_length=1, max_length=10_000)]


def _number_not_bool_or_text(value: Any) -> Any:
    """Refuse what pydantic's lax mode would read as a number although JSON Schema's ``integer`` and
    ``number`` do not include it: booleans (``false`` → 0) and text (``"12"`` → 12)."""
    if isinstance(value, bool | str):
        raise PydanticCustomError("int_type", "Input should be a valid integer (a JSON number)")
    return value


# Whole numbers: a JSON integer, or a number without a fraction (``12.0``, an integer in JSON Schema);
# booleans and text are refused. A Kafka message (``schemas.messages`` inherits these fields) carries
# integers, which validate as before. The validator comes after the bounds so that they stay pydantic-core's
# own (faster, and ``minimum``/``maximum`` in the JSON schema).
_Whole = BeforeValidator(_number_not_bool_or_text)
DurationMs = Annotated[int, Field(ge=0, le=MAX_DURATION_MS), _Whole]
DurationS = Annotated[int, Field(ge=0, le=MAX_DURATION_S), _Whole]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT), _Whole]
Score = Annotated[float, Field(strict=True, ge=0, le=1)]
"""A number from 0 to 1; integers are accepted (strict floats take them), booleans and text are not."""


def percent_text(places: int) -> str:
    """A number from 0 to 100 with at most ``places`` decimals as plain decimal text (``"12.5"``): how a Kafka
    message carries a ``Decimal`` (``model_dump(mode="json")``), so it is accepted from clients too, and only
    in this form (a JSON-schema ``pattern``)."""
    return rf"^(100(\.0{{1,{places}}})?|[0-9]{{1,2}}(\.[0-9]{{1,{places}}})?)$"


def _text_check(places: int) -> BeforeValidator:
    pattern = re.compile(percent_text(places))

    def check(value: Any) -> Any:
        if isinstance(value, str) and pattern.match(value) is None:
            raise PydanticCustomError(
                "decimal_parsing",
                f"must be a number from 0 to 100 with at most {places} decimals, or one as decimal text "
                'such as "12.5"',
            )
        return value

    return BeforeValidator(check)


def _nonnegative_zero(value: Decimal) -> Decimal:
    # -0.0 is in range and would otherwise serialize as "-0.0", outside the text pattern
    return value.copy_abs()


def _percent(places: int) -> tuple[Any, ...]:
    """The constraints of a number from 0 to 100 with at most ``places`` decimals (the column's
    precision), given as a JSON number or as :func:`percent_text`."""
    step = float(Decimal(1).scaleb(-places))
    schema = WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 100, "multipleOf": step},
                {"type": "string", "pattern": percent_text(places)},
            ],
            "description": f"0 to 100 with at most {places} decimals",
        }
    )
    bounds = Field(ge=0, le=100, decimal_places=places)
    return (bounds, _text_check(places), AfterValidator(_nonnegative_zero), schema)


LayoutShift = Annotated[Decimal, *_percent(3)]
EngagementScore = Annotated[Decimal, *_percent(2)]
Percentage = Annotated[Decimal, *_percent(2)]
"""A percentage 0 to 100 with at most 2 decimals (the seed's ``Decimal(5,2)`` percentages)."""
WholeNumber = _Whole
"""The validator refusing booleans and text where a JSON number is expected (for other contracts' ints)."""
ClientTime = Annotated[
    EventTime,
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": YEAR_PATTERN,
            "description": f"ISO-8601 date-time with a time zone, {RANGE_TEXT}",
        }
    ),
]
"""A stored event time as a client sends it (:data:`schemas.event_time.EventTime`), range in the schema."""
ClientDate = Annotated[
    EventDate,
    WithJsonSchema(
        {
            "type": "string",
            "format": "date",
            "pattern": YEAR_PATTERN,
            "description": f"ISO-8601 date (YYYY-MM-DD), {DAY_RANGE_TEXT}",
        }
    ),
]
"""A stored calendar day as a client sends it (:data:`schemas.event_time.EventDate`), range in the schema."""


class _Payload(BaseModel):
    # use_enum_values: validated enums are stored as their plain strings, which serialize faster
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)

    id: UUID | None = Field(default=None, description="client-chosen event id; resending it deduplicates")


class _TimedPayload(_Payload):
    timestamp: ClientTime | None = Field(default=None, description="when it happened; default: when received")
    sent_at: ClientTime | None = Field(
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
    cumulative_layout_shift: LayoutShift
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
    last_used: IsoDateTime | None = None
    proficiency_score: Score | None = None


class UsageMetricCreate(_Payload):
    """``POST /analytics/usage``: a user's usage summary for one day (durations in seconds)."""

    user_id: Identifier
    date: ClientDate
    session_count: Count = 0
    total_session_duration: DurationS = 0
    average_session_duration: DurationS = 0
    page_views: Count = 0
    unique_pages_visited: Count = 0
    features_used: Annotated[list[FeatureUsage], Field(max_length=200)] = Field(default_factory=list)
    engagement_score: EngagementScore = Decimal(0)
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

INGESTION_ROUTES: dict[Stream, str] = {
    Stream.EVENTS: "/analytics/events",
    Stream.PERFORMANCE: "/analytics/performance",
    Stream.USAGE: "/analytics/usage",
    Stream.ACTIVITIES: "/analytics/activities",
}
"""The single-item ingestion route of each stream (seed 000)."""
BATCH_ROUTE = "/analytics/events/batch"

__all__ = [
    "BATCH_ROUTE",
    "INGESTION_ROUTES",
    "PAYLOAD_MODELS",
    "ActivityLogCreate",
    "AnalyticsEventBatchCreate",
    "AnalyticsEventCreate",
    "FeatureUsage",
    "PerformanceMetricCreate",
    "UsageMetricCreate",
]
