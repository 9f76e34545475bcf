"""Each ``ReportType``'s document, built by the same readers as the API's reads (one source of truth for
every number): a ``COURSE_PERFORMANCE`` report's rows are what ``GET …/courses/{courseId}/performance``
answers for the same days and granularity, and so on (each builder names its read).

A report's parameters (:class:`ReportParameters`) come from its ``report_config``, overridden field by field
by a generation's ``parameters``; they are checked when the report is saved and again when it is generated.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from plumbing.config_db import ConfigDatabase
from query_api import lms
from query_api.lms.courses import course_analytics_by_period
from query_api.lms.engagement import CourseEngagement, CourseEngagementAnalytics, course_engagement_analytics
from query_api.lms.state import course_catalog
from query_api.lms.system import system_metrics_by_period
from query_api.lms.videos import VideoAnalytics, video_analytics
from query_api.lms_api.periods import AnalyticsPeriod, DayGranularity, DayRange, day_buckets, resolve_days
from query_api.lms_config.metric_engine import CalculationError, MetricType, calculate, parse_config, plan
from query_api.lms_config.repository import Entities, NotFound, Row
from query_api.lms_config.tables import METRICS, WIDGETS
from query_api.lms_config.widget_data import custom_metrics_of, widget_data
from query_api.lms_reports.document import (
    Chart,
    Column,
    Kind,
    ReportDocument,
    Section,
    record_section,
)
from query_api.store import QueryStore
from schemas.lms_payloads import MAX_LMS_ID

MAX_REPORT_COURSES = 200
"""Courses one report covers (its parameters name them, or the tenant's first ones by id)."""
MAX_REPORT_ITEMS = 50
"""Custom metrics or widgets one ``CUSTOM`` report shows."""


class ReportType(StrEnum):
    """The seed's ``ReportType``."""

    COURSE_PERFORMANCE = "COURSE_PERFORMANCE"
    USER_ENGAGEMENT = "USER_ENGAGEMENT"
    SYSTEM_USAGE = "SYSTEM_USAGE"
    ASSESSMENT_SUMMARY = "ASSESSMENT_SUMMARY"
    VIDEO_ANALYTICS = "VIDEO_ANALYTICS"
    CUSTOM = "CUSTOM"


Id = Annotated[int, Field(ge=1, le=MAX_LMS_ID)]


class ReportParameters(BaseModel):
    """What a report covers: the days (``period`` or ``startDate``/``endDate`` as the reads take them, in
    the tenant's zone; default the last 30 days), the series' ``granularity``, the courses (default: the
    tenant's, up to :data:`MAX_REPORT_COURSES`), and for ``CUSTOM`` the custom metrics and widgets shown."""

    model_config = ConfigDict(extra="forbid")

    period: AnalyticsPeriod | None = None
    startDate: date | None = None  # noqa: N815 (the reads' parameter names)
    endDate: date | None = None  # noqa: N815
    granularity: DayGranularity = DayGranularity.WEEKLY
    courseIds: Annotated[list[Id], Field(max_length=MAX_REPORT_COURSES)] | None = None  # noqa: N815
    metricIds: Annotated[list[Id], Field(max_length=MAX_REPORT_ITEMS)] = []  # noqa: N815
    widgetIds: Annotated[list[Id], Field(max_length=MAX_REPORT_ITEMS)] = []  # noqa: N815


class ReportConfigError(ValueError):
    """A report's configuration or parameters that cannot be generated: ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def report_parameters(config: dict[str, Any], overrides: dict[str, Any] | None = None) -> ReportParameters:
    """The parameters of a generation: ``config`` (``report_config``) with ``overrides`` on top."""
    merged = {**config, **(overrides or {})}
    try:
        return ReportParameters.model_validate(merged)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ReportConfigError(f"report_config.{where}" if where else "report_config", error["msg"]) from exc


def check_config(report_type: ReportType, config: dict[str, Any]) -> ReportParameters:
    parameters = report_parameters(config)
    if report_type is ReportType.CUSTOM and not (parameters.metricIds or parameters.widgetIds):
        raise ReportConfigError("report_config.metricIds", "a CUSTOM report names metricIds or widgetIds")
    return parameters


@dataclass(frozen=True, slots=True)
class ReportScope:
    """Whose data and which days: the tenant, its zone, the resolved days, the stores."""

    store: QueryStore
    database: ConfigDatabase
    """the configuration store, for a ``CUSTOM`` report's metrics and widgets (read in a short session:
    a transaction held while the report is computed would block the store's writers on SQLite)"""
    days: DayRange
    parameters: ReportParameters


def resolve_scope(
    store: QueryStore,
    database: ConfigDatabase,
    tenant_id: str,
    zone: ZoneInfo,
    today: date,
    parameters: ReportParameters,
) -> ReportScope:
    """The days of ``parameters`` as the reads resolve ``period``/``startDate``/``endDate``."""
    days = resolve_days(
        tenant_id,
        zone,
        today,
        period=parameters.period,
        start_date=parameters.startDate.isoformat() if parameters.startDate else None,
        end_date=parameters.endDate.isoformat() if parameters.endDate else None,
    )
    return ReportScope(store, database, days, parameters)


async def _courses(scope: ReportScope) -> list[int]:
    if scope.parameters.courseIds is not None:
        return sorted(set(scope.parameters.courseIds))
    catalog = await course_catalog(scope.store, scope.days.tenant_id)
    return sorted(catalog)[:MAX_REPORT_COURSES]


async def course_performance(scope: ReportScope) -> list[Section]:
    """Per course the ``CourseAnalytics`` of the whole range, then every course's series per
    ``granularity`` point: ``GET …/courses/{courseId}/performance`` (``summary`` and ``series``)."""
    courses = await _courses(scope)
    buckets = day_buckets(scope.days, scope.parameters.granularity)
    whole, *parts = await course_analytics_by_period(
        scope.store, [scope.days.period, *(bucket.period for bucket in buckets)], courses
    )
    summary = record_section(
        "Courses",
        lms.CourseAnalytics,
        [whole[c] for c in courses if c in whole],
        Chart("bar", "course_id", ("completion_rate", "engagement_score"), "Completion and engagement (%)"),
        exclude=("tenant_id",),
    )
    series = record_section(
        f"Series ({scope.parameters.granularity.value.lower()})",
        lms.CourseAnalytics,
        [part[c] for c in courses for part in parts if c in part],
        Chart("line", "period_start", ("active_students",), "Active students") if len(courses) == 1 else None,
        exclude=("tenant_id",),
    )
    return [summary, series]


async def user_engagement(scope: ReportScope) -> list[Section]:
    """Each course's engagement and its students' activity: ``GET …/courses/{courseId}/engagement``."""
    found: list[CourseEngagementAnalytics] = [
        await course_engagement_analytics(scope.store, scope.days.period, course)
        for course in await _courses(scope)
    ]
    return [
        record_section(
            "Courses",
            CourseEngagementAnalytics,
            found,
            Chart(
                "bar", "course_id", ("enrolled_students", "active_students"), "Enrolled and active students"
            ),
            exclude=("tenant_id",),
        ),
        record_section("Students", CourseEngagement, [s for course in found for s in course.students]),
    ]


async def system_usage(scope: ReportScope) -> list[Section]:
    """``SystemMetrics`` per ``granularity`` point: ``GET …/system/usage``."""
    periods = [bucket.period for bucket in day_buckets(scope.days, scope.parameters.granularity)]
    rows = await system_metrics_by_period(scope.store, periods)
    return [
        record_section(
            "System usage",
            lms.SystemMetrics,
            rows,
            Chart("line", "period_start", ("active_users", "total_sessions"), "Active users and sessions"),
            exclude=("tenant_id",),
        )
    ]


async def assessment_summary(scope: ReportScope) -> list[Section]:
    """``AssessmentAnalytics`` of every assessment the courses list:
    ``GET …/courses/{courseId}/assessments``."""
    named = scope.parameters.courseIds
    catalog = await course_catalog(scope.store, scope.days.tenant_id, named)
    courses = sorted(set(named)) if named is not None else sorted(catalog)[:MAX_REPORT_COURSES]
    listed = [a for course in courses if course in catalog for a in sorted(catalog[course].assessments)]
    found = await lms.assessment_analytics(scope.store, scope.days.period, listed)
    rows = [found[a] for a in listed if a in found]
    return [
        record_section(
            "Assessments",
            lms.AssessmentAnalytics,
            rows,
            Chart("bar", "assessment_id", ("average_score", "pass_rate"), "Average score and pass rate (%)"),
            exclude=("tenant_id",),
        )
    ]


async def video_report(scope: ReportScope) -> list[Section]:
    """``VideoAnalytics`` of every video of the courses: ``GET …/courses/{courseId}/videos``."""
    rows: list[VideoAnalytics] = []
    for course in await _courses(scope):
        rows.extend(await video_analytics(scope.store, scope.days.period, course))
    return [
        record_section(
            "Videos",
            VideoAnalytics,
            rows,
            Chart("bar", "video_id", ("unique_viewers", "watch_sessions"), "Viewers and watch sessions"),
            exclude=("tenant_id",),
        )
    ]


_VALUE_COLUMNS = (
    Column("source", Kind.TEXT),
    Column("id", Kind.INTEGER),
    Column("name", Kind.TEXT),
    Column("metric_type", Kind.TEXT),
    Column("value", Kind.DECIMAL),
    Column("error", Kind.TEXT),
)
_POINT_COLUMNS = (
    Column("period_start", Kind.DATE),
    Column("period_end", Kind.DATE),
    Column("value", Kind.DECIMAL),
)


async def custom(scope: ReportScope) -> list[Section]:
    """The named custom metrics (``POST …/custom-metrics/{metricId}/calculate``) and widgets (their data as
    ``GET …/dashboard/{dashboardId}`` shows it) over the days; a ``TREND`` also as its own series."""
    tenant = scope.days.tenant_id
    async with scope.database.session() as session:
        metrics = {m: await _live(METRICS, session, tenant, m) for m in scope.parameters.metricIds}
        widgets = {w: await _live(WIDGETS, session, tenant, w) for w in scope.parameters.widgetIds}
        used = await custom_metrics_of(session, tenant, [w for w in widgets.values() if w is not None])
    values: list[list[Any]] = []
    trends: list[Section] = []
    for metric_id, metric in metrics.items():
        if metric is None:
            values.append(["metric", metric_id, None, None, None, "METRIC_NOT_FOUND"])
            continue
        try:
            checked = plan(MetricType(metric.metric_type), parse_config(metric.calculation_config))
        except CalculationError as exc:
            values.append(["metric", metric_id, metric.metric_name, metric.metric_type, None, exc.message])
            continue
        value, points = await calculate(scope.store, checked, scope.days)
        values.append(["metric", metric_id, metric.metric_name, metric.metric_type, value, None])
        if points:
            rows = [[p.period_start, p.period_end, p.value] for p in points]
            trends.append(_trend(metric.metric_name, rows))
    for widget_id, widget in widgets.items():
        if widget is None:
            values.append(["widget", widget_id, None, None, None, "WIDGET_NOT_FOUND"])
            continue
        data, error = await widget_data(scope.store, widget, used, scope.days)
        if data is None:
            values.append(["widget", widget_id, widget.widget_name, None, None, (error or {}).get("message")])
            continue
        values.append(["widget", widget_id, widget.widget_name, data["metric_type"], data["value"], None])
        if data["points"]:
            rows = [[p["period_start"], p["period_end"], p["value"]] for p in data["points"]]
            trends.append(_trend(widget.widget_name, rows))
    return [Section("Metrics", _VALUE_COLUMNS, values), *trends]


async def _live(entities: Entities[Row], session: AsyncSession, tenant_id: str, row_id: int) -> Row | None:
    try:
        return await entities.get(session, tenant_id, row_id)
    except NotFound:
        return None


def _trend(name: str, rows: Sequence[Sequence[Any]]) -> Section:
    return Section(name, _POINT_COLUMNS, rows, Chart("line", "period_start", ("value",), name))


BUILDERS: dict[ReportType, Callable[[ReportScope], Awaitable[list[Section]]]] = {
    ReportType.COURSE_PERFORMANCE: course_performance,
    ReportType.USER_ENGAGEMENT: user_engagement,
    ReportType.SYSTEM_USAGE: system_usage,
    ReportType.ASSESSMENT_SUMMARY: assessment_summary,
    ReportType.VIDEO_ANALYTICS: video_report,
    ReportType.CUSTOM: custom,
}


async def build_report(
    scope: ReportScope, report_type: ReportType, title: str, generated_at: datetime
) -> ReportDocument:
    sections = await BUILDERS[report_type](scope)
    return ReportDocument(
        title=title,
        report_type=report_type.value,
        tenant_id=scope.days.tenant_id,
        zone=scope.days.zone.key,
        first=scope.days.first,
        last=scope.days.last,
        generated_at=generated_at,
        parameters=scope.parameters.model_dump(mode="json", exclude_defaults=True),
        sections=sections,
    )
