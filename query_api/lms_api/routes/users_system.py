"""``/api/admin/analytics/users/...``: the activity heatmap, cohorts, retention, a person's months and
progress, for an admin (or service) credential of the tenant."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Request

from plumbing.http_errors import AnalyticsError
from query_api import lms
from query_api.api.deps import ClockDep, TenantsDep
from query_api.lms.state import user_types_of
from query_api.lms_api import examples
from query_api.lms_api.access import LmsCaller, LmsCallerDep
from query_api.lms_api.params import (
    GranularityQuery,
    Last30Days,
    Last90Days,
    MonthQuery,
    UserIdPath,
    YearQuery,
    today_for,
)
from query_api.lms_api.periods import DayGranularity, day_buckets
from query_api.lms_api.responses import LmsResponse, answer, documented, no_data
from schemas.lms_envelope import AnalyticsErrorCode

users = APIRouter(prefix="/api/admin/analytics/users", tags=["lms: user analytics"])


async def known_roles(caller: LmsCaller, user_id: int) -> list[str]:
    """The roles the tenant knows LMS user ``user_id`` under; 404 ``ANALYTICS_DATA_NOT_AVAILABLE`` if none."""
    kinds = await user_types_of(caller.store, caller.tenant_id, user_id)
    if not kinds:
        raise no_data(f"user {user_id}", "userId", "no such user")
    return kinds


class HeatmapGranularity(StrEnum):
    """The heatmap's cells: weekday × hour, or whole weekdays."""

    HOURLY = "HOURLY"
    DAILY = "DAILY"


HEATMAP_EXAMPLE = lms.ActivityHeatmap(
    examples.TENANT,
    examples.COURSE.period_start,
    examples.COURSE.period_end,
    "HOURLY",
    412,
    [lms.HeatmapCell(1, 18, 212), lms.HeatmapCell(1, 19, 200)],
)


@users.get(
    "/activity-heatmap",
    response_class=LmsResponse,
    responses=documented(lms.ActivityHeatmap, HEATMAP_EXAMPLE),
)
async def get_activity_heatmap(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    granularity: Annotated[
        HeatmapGranularity,
        Query(description="`HOURLY`: weekday × local hour (168 cells); `DAILY`: 7 weekdays"),
    ] = HeatmapGranularity.HOURLY,
) -> LmsResponse:
    """Learning events of every person of the tenant in the period (default: the last 30 days) by local
    weekday and hour of the tenant's zone, every cell listed."""
    caller.require_admin()
    hourly = granularity is HeatmapGranularity.HOURLY
    return answer(request, await lms.activity_heatmap(caller.store, days.period, hourly))


class CohortBy(StrEnum):
    """What makes a cohort: signing up, or enrolling in a course, in the same week (ISO) or month."""

    SIGNUP_WEEK = "SIGNUP_WEEK"
    SIGNUP_MONTH = "SIGNUP_MONTH"
    ENROLLMENT_WEEK = "ENROLLMENT_WEEK"
    ENROLLMENT_MONTH = "ENROLLMENT_MONTH"


class SegmentBy(StrEnum):
    NONE = "NONE"
    USER_TYPE = "USER_TYPE"
    INSTITUTE = "INSTITUTE"


_ID = "[1-9][0-9]{0,14}"
_FILTER = f"(userType:(student|teacher|admin)|instituteId:{_ID}|courseId:{_ID})"
FiltersQuery = Annotated[
    str | None,
    Query(
        description="comma-separated `key:value`: `userType` (signup cohorts), `courseId` (enrollment "
        "cohorts), `instituteId` (the person's, or the enrolled course's)",
        pattern=f"^{_FILTER}(,{_FILTER})*$",
    ),
]


def _filters(text: str | None, cohort_by: CohortBy) -> dict[str, str]:
    found = dict(item.split(":", 1) for item in text.split(",")) if text else {}
    wrong = "courseId" if cohort_by.value.startswith("SIGNUP") else "userType"
    if wrong in found:
        message = f"{wrong} does not filter {cohort_by.value} cohorts"
        raise AnalyticsError(
            400, AnalyticsErrorCode.ANALYTICS_VALIDATION_ERROR, message, {"filters": [message]}
        )
    return found


COHORT_EXAMPLE = lms.CohortAnalysis(
    examples.TENANT,
    "SIGNUP_WEEK",
    examples.COURSE.period_start,
    examples.COURSE.period_end,
    [
        lms.Cohort(
            examples.WEEKLY.week_start_date,
            examples.WEEKLY.week_end_date,
            40,
            [38, 31, 27],
            [
                examples.COURSE.engagement_score,
                examples.COURSE.average_progress,
                examples.COURSE.completion_rate,
            ],
        )
    ],
)


@users.get("/cohort", response_class=LmsResponse, responses=documented(lms.CohortAnalysis, COHORT_EXAMPLE))
async def get_user_cohorts(
    request: Request,
    caller: LmsCallerDep,
    days: Last90Days,
    tenants: TenantsDep,
    clock: ClockDep,
    cohort_by: Annotated[CohortBy, Query(alias="cohortBy")],
    filters: FiltersQuery = None,
) -> LmsResponse:
    """A cohort table: the people who signed up (or the enrollments made) in each week or month of the
    period (default: the last 90 days), and how many were active in each week or month after, up to 12 and
    not past today."""
    caller.require_admin()
    found = _filters(filters, cohort_by)
    _, today = await today_for(caller, tenants, clock)
    monthly = cohort_by.value.endswith("MONTH")
    institute = int(found["instituteId"]) if "instituteId" in found else None
    if cohort_by.value.startswith("SIGNUP"):
        table = await lms.signup_cohorts(
            caller.store, days.period, monthly, today, found.get("userType"), institute
        )
    else:
        course = int(found["courseId"]) if "courseId" in found else None
        table = await lms.enrollment_cohorts(caller.store, days.period, monthly, today, course, institute)
    return answer(request, table)


RETENTION_EXAMPLE = lms.RetentionAnalysis(
    examples.TENANT,
    "USER_TYPE",
    examples.WEEKLY.week_start_date,
    examples.WEEKLY.week_end_date,
    [
        lms.RetentionSegment(
            "student",
            [
                lms.RetentionPoint(
                    examples.WEEKLY.week_start_date,
                    examples.WEEKLY.week_end_date,
                    131,
                    6,
                    125,
                    118,
                    examples.COURSE.average_progress,
                )
            ],
        )
    ],
)


@users.get(
    "/retention", response_class=LmsResponse, responses=documented(lms.RetentionAnalysis, RETENTION_EXAMPLE)
)
async def get_user_retention(
    request: Request,
    caller: LmsCallerDep,
    days: Last90Days,
    segment_by: Annotated[SegmentBy, Query(alias="segmentBy")] = SegmentBy.NONE,
    granularity: GranularityQuery = DayGranularity.WEEKLY,
) -> LmsResponse:
    """Active, new, returning and retained people per ``granularity`` point of the period (default: the
    last 90 days, weekly), per segment (user type, institute, or none)."""
    caller.require_admin()
    spans = [(b.first, b.last) for b in day_buckets(days, granularity)]
    return answer(request, await lms.retention(caller.store, days.period, spans, segment_by.value))


@users.get(
    "/{userId}/monthly-metrics",
    response_class=LmsResponse,
    responses=documented(list[lms.MonthlyUserMetrics], [examples.MONTHLY_USER]),
)
async def get_monthly_user_metrics(
    request: Request,
    caller: LmsCallerDep,
    tenants: TenantsDep,
    clock: ClockDep,
    user_id: UserIdPath,
    year: YearQuery = None,
    month: MonthQuery = None,
) -> LmsResponse:
    """``MonthlyUserMetrics`` of the person under each role they have (the seed keys people by id and type):
    the month ``year``-``month``; every month of ``year`` up to now when only ``year`` is given; this month
    when neither is. Oldest first, by role within a month."""
    caller.require_admin()
    today_range, today = await today_for(caller, tenants, clock)
    kinds = await known_roles(caller, user_id)
    if month is not None:
        months = [(year or today.year, month)]
    elif year is not None:
        last = 12 if year < today.year else today.month if year == today.year else 0
        months = [(year, m) for m in range(1, last + 1)]
    else:
        months = [(today.year, today.month)]
    people = [lms.Person(kind, user_id) for kind in kinds]
    found = await asyncio.gather(
        *(
            lms.monthly_user_metrics(caller.store, caller.tenant_id, today_range.zone, y, m, people)
            for y, m in months
        )
    )
    return answer(request, [item[person] for item in found for person in people])


@users.get(
    "/{userId}/progress",
    response_class=LmsResponse,
    responses=documented(lms.UserProgressAnalytics, examples.PROGRESS),
)
async def get_user_progress(request: Request, caller: LmsCallerDep, user_id: UserIdPath) -> LmsResponse:
    """Where the student stands now in each course they are enrolled in (current state), by course id."""
    caller.require_admin()
    if "student" not in await user_types_of(caller.store, caller.tenant_id, user_id):
        raise no_data(f"student {user_id}", "userId", "no such student")
    found = await lms.user_progress(caller.store, caller.tenant_id, [user_id])
    return answer(request, found[user_id])
