"""``/api/admin/analytics/courses/...``: a course's performance, daily and weekly metrics, assessments and
videos, and the comparison of courses, for an admin (or service) credential of the tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request

from query_api import lms
from query_api.lms.courses import (
    course_analytics_by_period,
    daily_course_metrics_of_days,
    weekly_course_metrics_of_weeks,
)
from query_api.lms_api import examples
from query_api.lms_api.access import LmsCaller, LmsCallerDep
from query_api.lms_api.params import (
    AssessmentTypeQuery,
    CourseFigure,
    CourseIdPath,
    DateRange,
    GranularityQuery,
    Last30Days,
    LimitQuery,
    PageQuery,
    VideoIdQuery,
)
from query_api.lms_api.periods import DayGranularity, DayRange, TimeGranularity, day_buckets
from query_api.lms_api.responses import DEFAULT_LIMIT, LmsResponse, answer, documented, no_data, page_of

router = APIRouter(prefix="/api/admin/analytics/courses", tags=["lms: course analytics"])


@dataclass(frozen=True, slots=True)
class CoursePerformanceAnalytics:
    """A course over a range of days: the range as a whole, and the same figures per point of the series
    (``granularity``; the first and last points clipped to the range)."""

    course_id: int
    granularity: str
    summary: lms.CourseAnalytics
    series: list[lms.CourseAnalytics]


async def known_course(caller: LmsCaller, course_id: int) -> None:
    """404 ``ANALYTICS_DATA_NOT_AVAILABLE`` unless the tenant has the course (catalog or activity)."""
    if course_id not in (await caller.catalog_snapshot()).known:
        raise no_data(f"course {course_id}", "courseId", "no such course")


async def course_performance(
    caller: LmsCaller, course_id: int, days: DayRange, granularity: DayGranularity
) -> CoursePerformanceAnalytics:
    buckets = day_buckets(days, granularity)
    whole, *parts = await course_analytics_by_period(
        caller.store,
        [days.period, *(bucket.period for bucket in buckets)],
        [course_id],
        (await caller.catalog_snapshot()).courses,
    )
    return CoursePerformanceAnalytics(
        course_id, granularity.value, whole[course_id], [part[course_id] for part in parts]
    )


PERFORMANCE_EXAMPLE = CoursePerformanceAnalytics(12, "MONTHLY", examples.COURSE, [examples.COURSE])


@router.get(
    "/{courseId}/performance",
    response_class=LmsResponse,
    responses=documented(CoursePerformanceAnalytics, PERFORMANCE_EXAMPLE),
)
async def get_course_performance(
    request: Request,
    caller: LmsCallerDep,
    days: DateRange,
    course_id: CourseIdPath,
    granularity: GranularityQuery = DayGranularity.WEEKLY,
) -> LmsResponse:
    """``CourseAnalytics`` of the course over ``startDate``..``endDate`` (default: the last 30 days) and per
    ``granularity`` point."""
    caller.require_admin()
    await known_course(caller, course_id)
    return answer(request, await course_performance(caller, course_id, days, granularity))


@router.get(
    "/{courseId}/daily-metrics",
    response_class=LmsResponse,
    responses=documented(list[lms.DailyCourseMetrics], [examples.DAILY], paginated=True),
)
async def get_daily_metrics(
    request: Request,
    caller: LmsCallerDep,
    days: DateRange,
    course_id: CourseIdPath,
    page: PageQuery = 1,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> LmsResponse:
    """``DailyCourseMetrics`` of each local day of ``startDate``..``endDate`` (default: the last 30 days),
    oldest first; days without activity are listed with zeros."""
    caller.require_admin()
    await known_course(caller, course_id)
    all_days = [days.first + timedelta(days=i) for i in range((days.last - days.first).days + 1)]
    wanted, pagination = page_of(all_days, page, limit)
    found = await daily_course_metrics_of_days(caller.store, caller.tenant_id, days.zone, wanted, [course_id])
    return answer(request, [item[course_id] for item in found], pagination)


@router.get(
    "/{courseId}/weekly-metrics",
    response_class=LmsResponse,
    responses=documented(list[lms.WeeklyCourseMetrics], [examples.WEEKLY], paginated=True),
)
async def get_weekly_metrics(
    request: Request,
    caller: LmsCallerDep,
    days: DateRange,
    course_id: CourseIdPath,
    page: PageQuery = 1,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> LmsResponse:
    """``WeeklyCourseMetrics`` of every ISO week (Monday to Sunday, local) that overlaps ``startDate``..
    ``endDate`` (default: the last 30 days), oldest first."""
    caller.require_admin()
    await known_course(caller, course_id)
    mondays = [
        bucket.first - timedelta(days=bucket.first.weekday())
        for bucket in day_buckets(days, TimeGranularity.WEEKLY)
    ]
    wanted, pagination = page_of(mondays, page, limit)
    found = await weekly_course_metrics_of_weeks(
        caller.store, caller.tenant_id, days.zone, wanted, [course_id]
    )
    return answer(request, [item[course_id] for item in found], pagination)


@router.get(
    "/{courseId}/assessments",
    response_class=LmsResponse,
    responses=documented(list[lms.AssessmentAnalytics], [examples.ASSESSMENT]),
)
async def get_course_assessments(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    course_id: CourseIdPath,
    assessment_type: AssessmentTypeQuery = None,
) -> LmsResponse:
    """``AssessmentAnalytics`` of each assessment the course lists now (of ``assessmentType`` only, when
    given) over the period, by assessment id."""
    caller.require_admin()
    await known_course(caller, course_id)
    live = (await caller.catalog_snapshot()).courses
    listed = live[course_id].assessments if course_id in live else {}
    wanted = [
        a for a, kind in sorted(listed.items()) if assessment_type is None or kind == assessment_type.value
    ]
    found = await lms.assessment_analytics(caller.store, days.period, wanted, catalog=live)
    return answer(request, [found[a] for a in wanted if a in found])


VIDEO_EXAMPLE = lms.VideoAnalytics(
    video_id=501,
    course_id=12,
    tenant_id=examples.TENANT,
    period_start=examples.COURSE.period_start,
    period_end=examples.COURSE.period_end,
    watch_sessions=1_204,
    unique_viewers=143,
    total_watch_seconds=611_420,
    average_completion=examples.VIDEO_SESSION.completion_percentage,
    completion_rate=examples.COURSE.completion_rate,
    buffer_events=388,
    seek_events=2_950,
    sessions_by_device={"desktop": 702, "mobile": 431, "tablet": 71},
    sessions_by_quality={"": 96, "1080p": 655, "720p": 453},
)


@router.get(
    "/{courseId}/videos",
    response_class=LmsResponse,
    responses=documented(list[lms.VideoAnalytics], [VIDEO_EXAMPLE]),
)
async def get_course_videos(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    course_id: CourseIdPath,
    video_id: VideoIdQuery = None,
) -> LmsResponse:
    """``VideoAnalytics`` of each video of the course watched in the period (default: the last 30 days), by
    video id; ``videoId`` narrows to one."""
    caller.require_admin()
    await known_course(caller, course_id)
    return answer(request, await lms.video_analytics(caller.store, days.period, course_id, video_id))


COMPARABLE = tuple(figure.value for figure in CourseFigure)
"""The figures of ``CourseAnalytics`` courses are ranked by."""
_FIGURE = "(" + "|".join(COMPARABLE) + ")"
MAX_COMPARED = 50


@router.get(
    "/compare",
    response_class=LmsResponse,
    responses=documented(list[lms.CourseAnalytics], [examples.COURSE]),
)
async def compare_courses(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    course_ids: Annotated[
        str,
        Query(
            alias="courseIds",
            description=f"2 to {MAX_COMPARED} course ids, comma-separated (up to 15 digits each)",
            pattern=r"^[1-9][0-9]{0,14}(,[1-9][0-9]{0,14}){1,49}$",
        ),
    ],
    metrics: Annotated[
        str,
        Query(
            description="figures to rank by, comma-separated, most important first: " + ", ".join(COMPARABLE),
            pattern=f"^{_FIGURE}(,{_FIGURE})*$",
        ),
    ],
) -> LmsResponse:
    """``CourseAnalytics`` of each course over the period (default: the last 30 days), best first by
    ``metrics`` in order (ties by course id). Every course must be known to the tenant (404 otherwise)."""
    caller.require_admin()
    ids = list(dict.fromkeys(int(c) for c in course_ids.split(",")))  # a repeated id is compared once
    for course in ids:
        await known_course(caller, course)
    found = await lms.course_analytics(
        caller.store, days.period, ids, (await caller.catalog_snapshot()).courses
    )
    order = list(dict.fromkeys(metrics.split(",")))
    ranked = sorted(found.values(), key=lambda c: (*(-getattr(c, name) for name in order), c.course_id))
    return answer(request, ranked)
