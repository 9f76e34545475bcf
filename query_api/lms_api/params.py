"""The LMS reads' query parameters, with the seed's camelCase names, declared once: FastAPI validates their
declared types (400 ``ANALYTICS_VALIDATION_ERROR``, ``details`` naming the parameter) and
:mod:`query_api.lms_api.periods` resolves them in the caller's tenant zone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Path, Query

from query_api.api.deps import ClockDep, TenantsDep
from query_api.api.params import FIRST_YEAR, LAST_YEAR, Day
from query_api.lms_api.access import LmsCaller, LmsCallerDep
from query_api.lms_api.periods import (
    MAX_RANGE_DAYS,
    AnalyticsPeriod,
    DayGranularity,
    DayRange,
    month_range,
    resolve_days,
)
from query_api.lms_api.responses import MAX_LIMIT
from schemas.lms_payloads import MAX_LMS_ID, AssessmentType


class CourseFigure(StrEnum):
    """The figures of ``CourseAnalytics`` (every field but its keys and period): what courses are ranked by
    (``compare``) and what a teacher's trend follows."""

    total_enrollments = "total_enrollments"
    active_students = "active_students"
    completion_rate = "completion_rate"
    average_progress = "average_progress"
    total_watch_time = "total_watch_time"
    quiz_completion_rate = "quiz_completion_rate"
    assignment_submission_rate = "assignment_submission_rate"
    engagement_score = "engagement_score"


CourseIdPath = Annotated[int, Path(alias="courseId", ge=1, le=MAX_LMS_ID, description="the course's LMS id")]
UserIdPath = Annotated[int, Path(alias="userId", ge=1, le=MAX_LMS_ID, description="the person's LMS user id")]
InstituteIdPath = Annotated[
    int, Path(alias="instituteId", ge=1, le=MAX_LMS_ID, description="the institute's LMS id")
]
CourseIdQuery = Annotated[
    int | None, Query(alias="courseId", ge=1, le=MAX_LMS_ID, description="one course only")
]
VideoIdQuery = Annotated[
    int | None, Query(alias="videoId", ge=1, le=MAX_LMS_ID, description="one video only")
]
StudentIdQuery = Annotated[
    int | None, Query(alias="studentId", ge=1, le=MAX_LMS_ID, description="one student only")
]
AssessmentTypeQuery = Annotated[
    AssessmentType | None, Query(alias="assessmentType", description="only quizzes or only assignments")
]

PeriodQuery = Annotated[
    AnalyticsPeriod | None,
    Query(
        alias="period",
        description="local days of the tenant's zone (default `LAST_30_DAYS`); `CUSTOM` takes "
        "`startDate` and `endDate`, which also override any other period",
    ),
]
StartDateQuery = Annotated[
    Day | None,
    Query(
        alias="startDate",
        description="first local day (YYYY-MM-DD); without `endDate` the range ends today "
        f"(at most {MAX_RANGE_DAYS} days)",
    ),
]
EndDateQuery = Annotated[
    Day | None, Query(alias="endDate", description="last local day (YYYY-MM-DD), inclusive")
]
GranularityQuery = Annotated[
    DayGranularity,
    Query(
        alias="granularity",
        description="width of the series' points (weeks from Monday, quarters from January)",
    ),
]
PageQuery = Annotated[int, Query(alias="page", ge=1, le=100_000, description="page of the list, from 1")]
LimitQuery = Annotated[int, Query(alias="limit", ge=1, le=MAX_LIMIT, description="items per page")]
YearQuery = Annotated[
    int | None, Query(alias="year", ge=FIRST_YEAR, le=LAST_YEAR, description="default: this year")
]
MonthQuery = Annotated[
    int | None,
    Query(alias="month", ge=1, le=12, description="default: every month of `year` (or this month)"),
]


async def today_for(caller: LmsCaller, tenants: TenantsDep, clock: ClockDep) -> tuple[DayRange, date]:
    """A one-day range of today in the caller's tenant zone, and today."""
    zone = await tenants.zone(caller.tenant_id)
    today = clock().astimezone(zone).date()
    return DayRange(caller.tenant_id, zone, today, today), today


async def days_for(
    caller: LmsCaller,
    tenants: TenantsDep,
    clock: ClockDep,
    period: AnalyticsPeriod | None,
    start_date: str | None,
    end_date: str | None,
    default: AnalyticsPeriod = AnalyticsPeriod.LAST_30_DAYS,
) -> DayRange:
    """The local days a read covers (see :func:`query_api.lms_api.periods.resolve_days`)."""
    base, today = await today_for(caller, tenants, clock)
    return resolve_days(
        caller.tenant_id,
        base.zone,
        today,
        period=period,
        start_date=start_date,
        end_date=end_date,
        default=default,
    )


def days_param(default: AnalyticsPeriod, with_period: bool = True) -> Callable[..., Awaitable[DayRange]]:
    """A dependency resolving ``period`` (unless ``with_period`` is false: reads the seed gives
    ``startDate``/``endDate`` only), ``startDate`` and ``endDate`` into the local days a read covers."""
    if with_period:

        async def days(
            caller: LmsCallerDep,
            tenants: TenantsDep,
            clock: ClockDep,
            period: PeriodQuery = None,
            start_date: StartDateQuery = None,
            end_date: EndDateQuery = None,
        ) -> DayRange:
            return await days_for(caller, tenants, clock, period, start_date, end_date, default)

        return days

    async def dates(
        caller: LmsCallerDep,
        tenants: TenantsDep,
        clock: ClockDep,
        start_date: StartDateQuery = None,
        end_date: EndDateQuery = None,
    ) -> DayRange:
        return await days_for(caller, tenants, clock, None, start_date, end_date, default)

    return dates


Last30Days = Annotated[DayRange, Depends(days_param(AnalyticsPeriod.LAST_30_DAYS))]
"""``period``/``startDate``/``endDate``, by default the last 30 days."""
Last90Days = Annotated[DayRange, Depends(days_param(AnalyticsPeriod.LAST_90_DAYS))]
"""``period``/``startDate``/``endDate``, by default the last 90 days (cohorts, retention)."""
DateRange = Annotated[DayRange, Depends(days_param(AnalyticsPeriod.LAST_30_DAYS, with_period=False))]
"""``startDate``/``endDate`` only, by default the last 30 days."""


async def month_for(
    caller: LmsCaller, tenants: TenantsDep, clock: ClockDep, year: int | None, month: int | None
) -> DayRange:
    base, today = await today_for(caller, tenants, clock)
    return month_range(caller.tenant_id, base.zone, today, year, month)


__all__ = [
    "AssessmentTypeQuery",
    "CourseIdPath",
    "CourseIdQuery",
    "InstituteIdPath",
    "StudentIdQuery",
    "UserIdPath",
    "VideoIdQuery",
    "DateRange",
    "Last30Days",
    "Last90Days",
    "CourseFigure",
    "EndDateQuery",
    "GranularityQuery",
    "LimitQuery",
    "MonthQuery",
    "PageQuery",
    "PeriodQuery",
    "StartDateQuery",
    "YearQuery",
    "days_for",
    "month_for",
]
