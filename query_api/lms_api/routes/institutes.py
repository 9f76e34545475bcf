"""``/api/admin/analytics/institutes/{instituteId}/...``: an institute's courses, for an admin (or service)
credential of the tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from plumbing.http_errors import AnalyticsError
from query_api import lms
from query_api.lms.state import institute_courses
from query_api.lms_api import examples
from query_api.lms_api.access import LmsCallerDep
from query_api.lms_api.params import Last30Days
from query_api.lms_api.responses import LmsResponse, answer, documented
from schemas.lms_envelope import AnalyticsErrorCode
from schemas.lms_payloads import MAX_LMS_ID

router = APIRouter(prefix="/api/admin/analytics/institutes", tags=["lms: institute analytics"])

InstituteId = Annotated[
    int, Path(alias="instituteId", ge=1, le=MAX_LMS_ID, description="the institute's LMS id")
]


@router.get(
    "/{instituteId}/enrollments",
    response_class=LmsResponse,
    responses=documented(list[lms.CourseAnalytics], [examples.COURSE]),
)
async def get_institute_enrollments(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    institute_id: InstituteId,
    course_id: Annotated[
        int | None, Query(alias="courseId", ge=1, le=MAX_LMS_ID, description="one of its courses only")
    ] = None,
) -> LmsResponse:
    """``CourseAnalytics`` (enrollments, active students, completion, progress …) of each course the
    institute has now, over the period (default: the last 30 days), by course id."""
    caller.require_admin()
    courses = await institute_courses(caller.store, caller.tenant_id, institute_id)
    if courses is None:
        raise AnalyticsError(
            404,
            AnalyticsErrorCode.ANALYTICS_DATA_NOT_AVAILABLE,
            f"institute {institute_id} has no data in this tenant",
            {"instituteId": ["no such institute"]},
        )
    if course_id is not None:
        courses = [c for c in courses if c == course_id]
    found = await lms.course_analytics(caller.store, days.period, courses)
    return answer(request, [found[c] for c in courses])
