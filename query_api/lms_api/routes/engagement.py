"""Engagement, completion and a student's own scores: the admin ``courses/{courseId}/engagement``,
``courses/{courseId}/completion`` and ``users/{userId}/engagement`` reads, and the student ``engagement`` and
``performance`` reads (ADR 0016)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from plumbing.http_errors import AnalyticsError
from query_api import lms
from query_api.api.deps import ClockDep, TenantsDep
from query_api.lms.assessments import attempted
from query_api.lms.completion import (
    CompletionPoint,
    CourseCompletionAnalytics,
    ProgressBand,
    course_completion,
)
from query_api.lms.engagement import (
    CourseEngagement,
    CourseEngagementAnalytics,
    DayEvents,
    UserEngagementAnalytics,
    course_engagement_analytics,
    user_engagement,
)
from query_api.lms_api import examples
from query_api.lms_api.access import LmsCallerDep
from query_api.lms_api.params import (
    AssessmentTypeQuery,
    CourseIdPath,
    CourseIdQuery,
    Last30Days,
    LimitQuery,
    PageQuery,
    StudentIdQuery,
    UserIdPath,
    today_for,
)
from query_api.lms_api.periods import DayGranularity, day_buckets
from query_api.lms_api.responses import DEFAULT_LIMIT, LmsResponse, answer, documented, page_of
from query_api.lms_api.routes.courses import known_course
from query_api.lms_api.routes.users_system import known_roles
from schemas.lms_envelope import AnalyticsErrorCode
from schemas.lms_payloads import UserType

router = APIRouter()
ADMIN_COURSES = "/api/admin/analytics/courses"

LEARNER = CourseEngagement(
    user_id=examples.USER.user_id,
    user_type="student",
    course_id=12,
    active_days=9,
    engagement_score=examples.USER.engagement_score,
    events=143,
    views=61,
    total_watch_time=412,
    completions=0,
    quiz_attempts=4,
    quiz_submissions=4,
    assignment_submissions=2,
    last_active_date=examples.USER.period_end,
)
COURSE_ENGAGEMENT_EXAMPLE = CourseEngagementAnalytics(
    course_id=12,
    tenant_id=examples.TENANT,
    period_start=examples.COURSE.period_start,
    period_end=examples.COURSE.period_end,
    enrolled_students=172,
    active_students=examples.COURSE.active_students,
    engagement_score=examples.COURSE.engagement_score,
    total_views=9_870,
    total_watch_time=examples.COURSE.total_watch_time,
    quiz_attempts=388,
    assignment_submissions=203,
    students=[LEARNER],
)


@router.get(
    ADMIN_COURSES + "/{courseId}/engagement",
    tags=["lms: course analytics"],
    response_class=LmsResponse,
    responses=documented(CourseEngagementAnalytics, COURSE_ENGAGEMENT_EXAMPLE, paginated=True),
)
async def get_course_engagement(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    course_id: CourseIdPath,
    student_id: StudentIdQuery = None,
    page: PageQuery = 1,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> LmsResponse:
    """The course's engagement over the period (default: the last 30 days) and each student's activity in it
    (every student enrolled, not dropped, by the period's end or active in it; by student id, paged:
    ``pagination`` counts students). ``studentId`` narrows the list to one (404 unless they are such a
    student); the course figures stay the course's."""
    caller.require_admin()
    await known_course(caller, course_id)
    found = await course_engagement_analytics(caller.store, days.period, course_id)
    students = found.students
    if student_id is not None:
        students = [s for s in students if s.user_id == student_id]
        if not students:
            raise AnalyticsError(
                404,
                AnalyticsErrorCode.ANALYTICS_DATA_NOT_AVAILABLE,
                f"student {student_id} is neither enrolled in course {course_id} nor active in it",
                {"studentId": ["not a student of this course in the period"]},
            )
    items, pagination = page_of(students, page, limit)
    return answer(request, replace(found, students=items), pagination)


COMPLETION_EXAMPLE = CourseCompletionAnalytics(
    course_id=12,
    tenant_id=examples.TENANT,
    period_start=examples.COURSE.period_start,
    period_end=examples.COURSE.period_end,
    total_enrollments=examples.COURSE.total_enrollments,
    new_enrollments=examples.WEEKLY.new_enrollments,
    completed_enrollments=44,
    completed_in_period=9,
    dropped_enrollments=12,
    completion_rate=examples.COURSE.completion_rate,
    average_progress=examples.COURSE.average_progress,
    average_days_to_complete=examples.MONTHLY_USER.engagement_score,
    progress_distribution=[ProgressBand(0, 25, 31), ProgressBand(25, 50, 40), ProgressBand(100, 100, 44)],
    group_by="WEEKLY",
    trend=[
        CompletionPoint(
            examples.WEEKLY.week_start_date,
            examples.WEEKLY.week_end_date,
            examples.WEEKLY.new_enrollments,
            examples.WEEKLY.completed_enrollments,
            examples.COURSE.completion_rate,
        )
    ],
)


@router.get(
    ADMIN_COURSES + "/{courseId}/completion",
    tags=["lms: course analytics"],
    response_class=LmsResponse,
    responses=documented(CourseCompletionAnalytics, COMPLETION_EXAMPLE),
)
async def get_course_completion(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    course_id: CourseIdPath,
    group_by: Annotated[
        DayGranularity, Query(alias="groupBy", description="width of the trend's points")
    ] = DayGranularity.WEEKLY,
) -> LmsResponse:
    """Enrollments, completions and drop-outs of the course by the end of the period (default: the last 30
    days), the progress of its learners in bands, the mean days to complete, and new enrollments,
    completions and the completion rate per ``groupBy`` point."""
    caller.require_admin()
    await known_course(caller, course_id)
    points = [bucket.period for bucket in day_buckets(days, group_by)]
    return answer(
        request, await course_completion(caller.store, days.period, course_id, group_by.value, points)
    )


USER_ENGAGEMENT_EXAMPLE = UserEngagementAnalytics(
    user_id=examples.USER.user_id,
    user_type="student",
    tenant_id=examples.TENANT,
    period_start=examples.USER.period_start,
    period_end=examples.USER.period_end,
    course_id=None,
    active_days=5,
    engagement_score=examples.USER.engagement_score,
    events=212,
    daily=[DayEvents(examples.USER.period_start, 31), DayEvents(date(2026, 2, 17), 0)],
    courses=[LEARNER],
)
ROLE_ORDER = [UserType.STUDENT.value, UserType.TEACHER.value, UserType.ADMIN.value]


@router.get(
    "/api/admin/analytics/users/{userId}/engagement",
    tags=["lms: user analytics"],
    response_class=LmsResponse,
    responses=documented(UserEngagementAnalytics, USER_ENGAGEMENT_EXAMPLE),
)
async def get_user_engagement(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    user_id: UserIdPath,
    course_id: CourseIdQuery = None,
) -> LmsResponse:
    """The person's active days, events per local day and activity per course over the period (default: the
    last 30 days), of ``courseId`` only when given. A person known under several roles is read as a student
    first, then as a teacher, then as an admin."""
    caller.require_admin()
    kind = min(await known_roles(caller, user_id), key=ROLE_ORDER.index)
    person = lms.Person(kind, user_id)
    return answer(request, await user_engagement(caller.store, days.period, person, course_id))


@router.get(
    "/api/student/analytics/engagement",
    tags=["lms: student analytics"],
    response_class=LmsResponse,
    responses=documented(UserEngagementAnalytics, USER_ENGAGEMENT_EXAMPLE),
)
async def get_my_engagement(
    request: Request, caller: LmsCallerDep, days: Last30Days, course_id: CourseIdQuery = None
) -> LmsResponse:
    """The calling student's active days, events per local day and activity per course over the period
    (default: the last 30 days), of ``courseId`` only when given."""
    me = lms.Person(UserType.STUDENT.value, caller.student())
    return answer(request, await user_engagement(caller.store, days.period, me, course_id))


@router.get(
    "/api/student/analytics/performance",
    tags=["lms: student analytics"],
    response_class=LmsResponse,
    responses=documented(list[lms.AssessmentAnalytics], [examples.ASSESSMENT]),
)
async def get_my_performance(
    request: Request,
    caller: LmsCallerDep,
    tenants: TenantsDep,
    clock: ClockDep,
    course_id: CourseIdQuery = None,
    assessment_type: AssessmentTypeQuery = None,
) -> LmsResponse:
    """``AssessmentAnalytics`` of the calling student's own attempts at each assessment they attempted (in
    ``courseId``, of ``assessmentType``, when given), from their first attempt to today, by assessment id."""
    me = lms.Person(UserType.STUDENT.value, caller.student())
    today_range, today = await today_for(caller, tenants, clock)
    kind = assessment_type.value if assessment_type else None
    ids, first = await attempted(caller.store, caller.tenant_id, me, course_id, kind)
    if first is None:
        return answer(request, [])
    period = lms.LmsPeriod(caller.tenant_id, today_range.zone, min(first, today), today)
    live = (await caller.catalog_snapshot()).courses
    found = await lms.assessment_analytics(caller.store, period, ids, me, live)
    return answer(request, [found[a] for a in ids if a in found])
