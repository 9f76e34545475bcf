"""Response models of the read endpoints (the seed's shapes), so FastAPI validates every answer and the
OpenAPI document shows each endpoint's exact payload."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

T = TypeVar("T")


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Instant = Annotated[datetime, AfterValidator(_utc)]
"""A time in an answer, always with its zone (RFC 3339 ``date-time``, as documented): ClickHouse
``DateTime`` columns come back naive and hold UTC, so a naive value is UTC."""

TrendDirection = Literal["up", "down", "stable"]
PointTime = Instant | date
"""A series point: a day, week or month start; an hour (UTC) for ``last_24_hours``."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Metadata(_Model):
    timestamp: str
    request_id: str
    processing_time: int = Field(description="milliseconds")


class Pagination(_Model):
    page: int
    per_page: int
    total: int
    total_pages: int
    has_next: bool
    has_previous: bool


class Envelope(_Model, Generic[T]):
    success: bool = True
    data: T
    metadata: Metadata


class PagedEnvelope(Envelope[T], Generic[T]):
    pagination: Pagination


# ---- listings (raw rows) -------------------------------------------------------------------------------


class AuditEntryPublic(_Model):
    at: str
    actor: str
    actor_roles: list[str]
    action: str
    target_user: str
    resource: str
    request_id: str
    outcome: str
    detail: str


class AnalyticsEventPublic(_Model):
    id: str
    user_id: str
    session_id: str
    event_type: str
    event_name: str
    event_category: str
    properties: dict[str, Any]
    timestamp: Instant
    source: str
    platform: str


class PerformanceMetricPublic(_Model):
    id: str
    user_id: str
    session_id: str
    timestamp: Instant
    page: str
    page_load_time: int
    time_to_first_byte: int
    first_contentful_paint: int
    largest_contentful_paint: int
    cumulative_layout_shift: float
    first_input_delay: int
    total_blocking_time: int
    memory_usage: dict[str, Any]
    network_info: dict[str, Any]
    device_info: dict[str, Any]
    custom_metrics: dict[str, Any]


class FeatureUsagePublic(_Model):
    feature_name: str
    category: str
    usage_count: int
    total_time_spent: int = 0
    last_used: str | None = None
    proficiency_score: float | None = None


class UsageMetricPublic(_Model):
    id: str
    user_id: str
    date: date
    session_count: int
    total_session_duration: int
    average_session_duration: int
    page_views: int
    unique_pages_visited: int
    features_used: list[FeatureUsagePublic]
    engagement_score: float
    retention_data: dict[str, Any]
    conversion_data: dict[str, Any]
    user_flow: list[Any]


class ActivityLogPublic(_Model):
    id: str
    user_id: str
    session_id: str
    activity_type: str
    activity_category: str
    description: str
    details: dict[str, Any]
    metadata: dict[str, Any]
    severity: str
    tags: list[str]
    timestamp: Instant


# ---- aggregates ----------------------------------------------------------------------------------------


class CoreWebVitals(_Model):
    lcp: float | None = Field(description="p75 largest contentful paint, ms")
    fid: float | None = Field(description="p75 first input delay, ms")
    cls: float | None = Field(description="p75 cumulative layout shift")


class VitalsRatings(_Model):
    lcp: str | None
    fid: str | None
    cls: str | None


class SlowPage(_Model):
    page: str
    average_load_time: float
    visits: int


class PerformancePoint(_Model):
    date: PointTime
    average_load_time: float | None
    performance_score: int | None


class PerformanceIssue(_Model):
    type: str
    severity: str
    page: str | None
    description: str
    metric: str
    value: float
    threshold: float
    affected_users: int


class PerformanceOverview(_Model):
    average_load_time: float
    performance_score: int | None
    core_web_vitals: CoreWebVitals
    core_web_vitals_ratings: VitalsRatings
    samples: int
    slowest_pages: list[SlowPage]
    performance_trends: list[PerformancePoint]
    issues: list[PerformanceIssue]


class SeriesPoint(_Model):
    date: PointTime
    value: float


class Trend(_Model):
    metric: str
    current_value: float
    previous_value: float
    change_percentage: float | None
    trend: TrendDirection
    time_series: list[SeriesPoint]


class UsageTrend(Trend):
    time_period: str


class Breakdown(_Model):
    type: str
    count: int
    percentage: float


class RecentActivity(_Model):
    id: str
    description: str
    timestamp: Instant
    severity: str
    activity_type: str


class ActivitySummary(_Model):
    total_activities: int
    activity_breakdown: list[Breakdown]
    category_breakdown: list[Breakdown]
    severity_breakdown: list[Breakdown]
    recent_activities: list[RecentActivity]


class TopEvent(_Model):
    event_name: str
    count: int
    percentage: float


class TopPage(_Model):
    page: str
    views: int
    unique_views: int


class Overview(_Model):
    total_events: int
    unique_sessions: int
    average_session_duration: float
    bounce_rate: float
    engagement_score: float
    top_events: list[TopEvent]
    top_pages: list[TopPage]


class FeatureRank(_Model):
    feature_name: str
    usage_count: int
    users: int


class Segment(_Model):
    segment: str
    users: int
    percentage: float


class UsageOverview(_Model):
    daily_active_users: float
    session_frequency: float
    feature_adoption_rate: float
    most_used_features: list[FeatureRank]
    user_segments: list[Segment]


class Insight(_Model):
    id: str
    type: str
    priority: Literal["high", "medium", "low"]
    title: str
    description: str
    impact: Literal["positive", "negative", "neutral"]
    metric: str
    change_percentage: float | None
    trend: TrendDirection
    recommendations: list[str]
    created_at: Instant


class Dashboard(_Model):
    user_id: str
    time_period: str
    overview: Overview
    performance: PerformanceOverview
    usage: UsageOverview
    activity: ActivitySummary
    trends: list[Trend]
    insights: list[Insight]
    last_updated: Instant


class TrackingPublic(_Model):
    enabled: bool
    tracked_streams: list[str]


class RetentionPublic(_Model):
    raw_days: int
    daily_rollup_days: int
    weekly_monthly_rollup_days: int


class TenantSettingsPublic(_Model):
    time_zone: str
    ip_handling: str
    user_agent_handling: str
    retention: RetentionPublic


class RebuildPublic(_Model):
    id: str
    reason: str
    status: str
    first_day: date
    last_day: date
    requested_at: Instant
    detail: str


class RetentionChangePublic(_Model):
    """A scheduled step of the retention in force: from ``effective_at`` on, the retention job applies
    ``new`` instead of ``old`` (rows kept by ``old`` but not by ``new`` are deleted by its next run)."""

    effective_at: Instant
    old: RetentionPublic
    new: RetentionPublic


class ConfigPublic(_Model):
    user_id: str
    tenant_id: str
    tracking: TrackingPublic
    tenant: TenantSettingsPublic
    """The stored settings; ``tenant.retention`` is the one requested, in force once ``retention_changes``
    have all taken effect."""
    retention_changes: list[RetentionChangePublic] = Field(
        description="shorter retentions still in their grace period, in time order (ADR 0012); empty when "
        "the requested retention is in force"
    )
    rollup_rebuilds: list[RebuildPublic]


# ---- privacy (GDPR export and deletion) ----------------------------------------------------------------


class UserExportPublic(_Model):
    """Everything held about one user: every raw table, every column, as stored."""

    user_id: str
    tenant_id: str
    exported_at: str
    tables: dict[str, list[dict[str, Any]]]


class PrivacyJobPublic(_Model):
    """A GDPR deletion: requested, running, done (with what it deleted) or failed (with the reason)."""

    job_id: str
    kind: Literal["delete"]
    user_id: str
    status: Literal["pending", "running", "done", "failed"]
    requested_by: str
    requested_at: str
    updated_at: str
    raw_rows_deleted: int
    rollup_rows_deleted: int
    detail: str
    status_url: str
