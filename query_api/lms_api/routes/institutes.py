"""``/api/admin/analytics/institutes/{instituteId}/...``: an institute's courses and performance, for an admin
(or service) credential of the tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from query_api import lms
from query_api.lms.catalog_cache import CatalogSnapshot
from query_api.lms.institutes import (
    InstituteFigures,
    InstitutePerformance,
    institute_performance,
    institutes_of,
)
from query_api.lms_api import examples
from query_api.lms_api.access import LmsCallerDep
from query_api.lms_api.params import CourseIdQuery, InstituteIdPath, Last30Days
from query_api.lms_api.responses import LmsResponse, answer, documented, no_data

router = APIRouter(prefix="/api/admin/analytics/institutes", tags=["lms: institute analytics"])


def known_institute(catalog: CatalogSnapshot, institute_id: int) -> list[int]:
    """The courses the institute has now; 404 ``ANALYTICS_DATA_NOT_AVAILABLE`` unless the tenant knows it.
    A request reads one snapshot, so its check and its figures see the same catalog."""
    courses = catalog.institute_courses(institute_id)
    if courses is None:
        raise no_data(f"institute {institute_id}", "instituteId", "no such institute")
    return courses


@router.get(
    "/{instituteId}/enrollments",
    response_class=LmsResponse,
    responses=documented(list[lms.CourseAnalytics], [examples.COURSE]),
)
async def get_institute_enrollments(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    institute_id: InstituteIdPath,
    course_id: CourseIdQuery = None,
) -> LmsResponse:
    """``CourseAnalytics`` (enrollments, active students, completion, progress …) of each course the
    institute has now, over the period (default: the last 30 days), by course id."""
    caller.require_admin()
    catalog = await caller.catalog_snapshot()
    courses = known_institute(catalog, institute_id)
    if course_id is not None:
        courses = [c for c in courses if c == course_id]
    found = await lms.course_analytics(caller.store, days.period, courses, catalog.courses)
    return answer(request, [found[c] for c in courses])


INSTITUTE_EXAMPLE = InstituteFigures(
    institute_id=3,
    total_users=1_204,
    active_users=873,
    total_courses=22,
    active_courses=19,
    total_enrollments=3_410,
    active_students=812,
    completion_rate=examples.COURSE.completion_rate,
    average_progress=examples.COURSE.average_progress,
    engagement_score=examples.COURSE.engagement_score,
    total_watch_time=188_230,
    total_sessions=24_118,
    average_session_duration=examples.SYSTEM.average_session_duration,
)
PERFORMANCE_EXAMPLE = InstitutePerformance(
    examples.TENANT,
    examples.COURSE.period_start,
    examples.COURSE.period_end,
    INSTITUTE_EXAMPLE,
    [INSTITUTE_EXAMPLE],
)


@router.get(
    "/{instituteId}/performance",
    response_class=LmsResponse,
    responses=documented(InstitutePerformance, PERFORMANCE_EXAMPLE),
)
async def get_institute_performance(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    institute_id: InstituteIdPath,
    include_comparison: Annotated[
        bool,
        Query(
            alias="includeComparison", description="also the same figures for every institute of the tenant"
        ),
    ] = False,
) -> LmsResponse:
    """The institute's people and courses now, and what they did over the period (default: the last 30
    days): users, active users, courses, enrollments, completion, progress, engagement, watch time and
    sessions; with ``includeComparison``, the same for every institute of the tenant, by id."""
    caller.require_admin()
    catalog = await caller.catalog_snapshot()
    known_institute(catalog, institute_id)
    ids = (
        sorted({institute_id, *await institutes_of(caller.store, caller.tenant_id)})
        if include_comparison
        else [institute_id]
    )
    found = await institute_performance(caller.store, days.period, ids, catalog.courses)
    comparison = [found[i] for i in ids] if include_comparison else None
    return answer(
        request,
        InstitutePerformance(caller.tenant_id, days.first, days.last, found[institute_id], comparison),
    )
