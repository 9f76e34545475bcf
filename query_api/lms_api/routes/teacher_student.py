"""``/api/teacher/analytics/...`` (the courses a teacher is assigned to, their assessments and videos) and
``/api/student/analytics/...`` (the calling student's own data), ADR 0016 §4."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from plumbing.http_errors import AnalyticsError
from query_api import lms
from query_api.lms.models import TrendPoint
from query_api.lms.users import user_analytics_by_period
from query_api.lms_api import examples
from query_api.lms_api.access import LmsCaller, LmsCallerDep
from query_api.lms_api.params import (
    CourseFigure,
    CourseIdPath,
    CourseIdQuery,
    GranularityQuery,
    Last30Days,
    LimitQuery,
    PageQuery,
    StudentIdQuery,
    VideoIdQuery,
)
from query_api.lms_api.periods import DayGranularity, DayRange, day_buckets
from query_api.lms_api.responses import DEFAULT_LIMIT, LmsResponse, answer, documented, page_of, pagination
from query_api.lms_api.routes.courses import course_performance
from schemas.lms_envelope import AnalyticsErrorCode
from schemas.lms_payloads import MAX_LMS_ID, AssessmentType

teacher = APIRouter(prefix="/api/teacher/analytics", tags=["lms: teacher analytics"])

student = APIRouter(prefix="/api/student/analytics", tags=["lms: student analytics"])


async def _assessment(
    request: Request, caller: LmsCaller, days: DayRange, assessment_id: int, kind: AssessmentType
) -> LmsResponse:
    """``AssessmentAnalytics`` of an assessment of ``kind`` listed by a course the caller teaches; any other
    (another course's, another kind, none) is refused alike, so nothing about it is disclosed."""
    taught = await caller.teacher_courses()
    live = (await caller.catalog_snapshot()).courses
    catalog = {course: live[course] for course in taught if course in live}
    course = next(
        (c for c in sorted(catalog) if catalog[c].assessments.get(assessment_id) == kind.value), None
    )
    if course is None:
        raise caller.refuse_target(
            f"{kind.value}:{assessment_id}", f"no course you teach lists this {kind.value}"
        )
    await caller.require_teacher_of(course)
    found = await lms.assessment_analytics(caller.store, days.period, [assessment_id], catalog=live)
    return answer(request, found[assessment_id])


@dataclass(frozen=True, slots=True)
class TeacherCourseAnalytics:
    """A taught course over the period: its ``CourseAnalytics``, and one of its figures (``metric``) per
    week of the period (ISO weeks clipped to it)."""

    course_id: int
    summary: lms.CourseAnalytics
    metric: str
    trend: list[TrendPoint]


TEACHER_COURSE_EXAMPLE = TeacherCourseAnalytics(
    12,
    examples.COURSE,
    "engagement_score",
    [
        TrendPoint(
            examples.WEEKLY.week_start_date, examples.WEEKLY.week_end_date, examples.WEEKLY.engagement_score
        )
    ],
)


@teacher.get(
    "/courses/{courseId}",
    response_class=LmsResponse,
    responses=documented(TeacherCourseAnalytics, TEACHER_COURSE_EXAMPLE),
)
async def get_my_course_analytics(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    course_id: CourseIdPath,
    metric: Annotated[
        CourseFigure, Query(description="the figure whose weekly trend is returned")
    ] = CourseFigure.engagement_score,
) -> LmsResponse:
    """``CourseAnalytics`` of a course the teacher teaches over the period (default: the last 30 days), and
    ``metric`` week by week."""
    await caller.require_teacher_of(course_id)
    weekly = await course_performance(caller, course_id, days, DayGranularity.WEEKLY)
    trend = [
        TrendPoint(week.period_start, week.period_end, getattr(week, metric.value)) for week in weekly.series
    ]
    return answer(request, TeacherCourseAnalytics(course_id, weekly.summary, metric.value, trend))


@teacher.get(
    "/assignments/{assignmentId}",
    response_class=LmsResponse,
    responses=documented(lms.AssessmentAnalytics, examples.ASSESSMENT),
)
async def get_assignment_analytics(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    assignment_id: Annotated[int, Path(alias="assignmentId", ge=1, le=MAX_LMS_ID)],
) -> LmsResponse:
    """Submissions and grading of an assignment of a course the teacher teaches, over the period (default:
    the last 30 days; attempts by the local day they started)."""
    kind = AssessmentType.ASSIGNMENT
    return await _assessment(request, caller, days, assignment_id, kind)


@teacher.get(
    "/quizzes/{quizId}",
    response_class=LmsResponse,
    responses=documented(lms.AssessmentAnalytics, examples.ASSESSMENT),
)
async def get_quiz_analytics(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    quiz_id: Annotated[int, Path(alias="quizId", ge=1, le=MAX_LMS_ID)],
) -> LmsResponse:
    """Attempts and scores of a quiz of a course the teacher teaches, over the period (default: the last 30
    days)."""
    kind = AssessmentType.QUIZ
    return await _assessment(request, caller, days, quiz_id, kind)


@teacher.get(
    "/courses/{courseId}/video-analytics",
    response_class=LmsResponse,
    responses=documented(list[lms.VideoWatchAnalytics], [examples.VIDEO_SESSION], paginated=True),
)
async def get_course_video_analytics(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    course_id: CourseIdPath,
    video_id: VideoIdQuery = None,
    page: PageQuery = 1,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> LmsResponse:
    """The watch sessions of the course's students that started in the period (default: the last 30 days),
    of ``videoId`` only when given; by student, then start time."""
    await caller.require_teacher_of(course_id)
    items, total = await lms.video_sessions(
        caller.store, days.period, course_id=course_id, video_id=video_id, page=((page - 1) * limit, limit)
    )
    return answer(request, items, pagination(page, limit, total))


@student.get(
    "/video-history",
    response_class=LmsResponse,
    responses=documented(list[lms.VideoWatchAnalytics], [examples.VIDEO_SESSION], paginated=True),
)
async def get_my_video_history(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    course_id: CourseIdQuery = None,
    page: PageQuery = 1,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> LmsResponse:
    """The calling student's watch sessions that started in the period (default: the last 30 days), of
    ``courseId`` only when given; by start time."""
    me = caller.student()
    items, total = await lms.video_sessions(
        caller.store, days.period, student_ids=[me], course_id=course_id, page=((page - 1) * limit, limit)
    )
    return answer(request, items, pagination(page, limit, total))


@teacher.get(
    "/courses/{courseId}/students",
    response_class=LmsResponse,
    responses=documented(list[lms.UserProgressAnalytics], [examples.PROGRESS], paginated=True),
)
async def get_course_students(
    request: Request,
    caller: LmsCallerDep,
    course_id: CourseIdPath,
    student_id: StudentIdQuery = None,
    include_details: Annotated[
        bool, Query(alias="includeDetails", description="also each student's enrollment (status, dates)")
    ] = False,
    page: PageQuery = 1,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> LmsResponse:
    """The progress in this course of each student enrolled in it now, by student id; figures count this
    course only. ``studentId`` narrows to one (404 unless enrolled)."""
    await caller.require_teacher_of(course_id)
    students = await lms.course_students(caller.store, caller.tenant_id, course_id)
    if student_id is not None:
        if student_id not in students:
            raise AnalyticsError(
                404,
                AnalyticsErrorCode.ANALYTICS_DATA_NOT_AVAILABLE,
                f"student {student_id} is not enrolled in course {course_id}",
                {"studentId": ["not enrolled in this course"]},
            )
        students = [student_id]
    wanted, pagination = page_of(students, page, limit)
    found = await lms.user_progress(caller.store, caller.tenant_id, wanted, course_id)
    items = [found[s] if include_details else replace(found[s], courses=[]) for s in wanted]
    return answer(request, items, pagination)


@student.get(
    "/progress",
    response_class=LmsResponse,
    responses=documented(lms.UserProgressAnalytics, examples.PROGRESS),
)
async def get_my_progress(request: Request, caller: LmsCallerDep) -> LmsResponse:
    """Where the calling student stands now in each course they are enrolled in, by course id."""
    me = caller.student()
    found = await lms.user_progress(caller.store, caller.tenant_id, [me])
    return answer(request, found[me])


@student.get(
    "/study-time",
    response_class=LmsResponse,
    responses=documented(list[lms.UserAnalytics], [examples.USER]),
)
async def get_my_study_time(
    request: Request,
    caller: LmsCallerDep,
    days: Last30Days,
    granularity: GranularityQuery = DayGranularity.WEEKLY,
) -> LmsResponse:
    """The calling student's ``UserAnalytics`` per ``granularity`` point of the period (default: the last
    30 days, weekly): logins, mean session length, courses, videos, quizzes, submissions, engagement."""
    me = lms.Person("student", caller.student())
    periods = [bucket.period for bucket in day_buckets(days, granularity)]
    found = await user_analytics_by_period(caller.store, periods, [me])
    return answer(request, [item[me] for item in found])
