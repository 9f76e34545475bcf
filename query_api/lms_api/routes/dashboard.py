"""``GET /api/admin/analytics/dashboard``: the tenant's overview for an admin (any tenant's, named by
``tenantId``, for a ``platform`` admin)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request

from query_api import lms
from query_api.api.deps import ClockDep, TenantsDep
from query_api.lms.courses import active_students
from query_api.lms.system import system_metrics_by_period
from query_api.lms_api import examples
from query_api.lms_api.access import LmsCallerDep
from query_api.lms_api.params import EndDateQuery, PeriodQuery, StartDateQuery
from query_api.lms_api.periods import resolve_days
from query_api.lms_api.responses import LmsResponse, answer, documented
from schemas.payloads import ID_CLASS, MAX_TENANT_ID_LENGTH

router = APIRouter(prefix="/api/admin/analytics", tags=["lms: dashboard"])
TOP_COURSES = 5


@dataclass(frozen=True, slots=True)
class DashboardOverview:
    """The tenant's platform over the period and over as many days just before it, and its most active
    courses (by active students, then engagement, then id)."""

    tenant_id: str
    current: lms.SystemMetrics
    previous: lms.SystemMetrics
    top_courses: list[lms.CourseAnalytics]


OVERVIEW_EXAMPLE = DashboardOverview(examples.TENANT, examples.SYSTEM, examples.SYSTEM, [examples.COURSE])


def contenders(active: dict[int, int], courses: Iterable[int], top: int) -> list[int]:
    """The courses that can rank among the ``top`` most active (by active students, then by figures only the
    whole computation gives): those with at least as many active students as the ``top``-th most active, ties
    kept — so only they need their whole figures, and the ranking stays exact."""
    every = sorted(set(courses))
    counts = sorted((active.get(course, 0) for course in every), reverse=True)
    threshold = counts[top - 1] if len(counts) >= top else 0
    return [course for course in every if active.get(course, 0) >= threshold]


@router.get(
    "/dashboard", response_class=LmsResponse, responses=documented(DashboardOverview, OVERVIEW_EXAMPLE)
)
async def get_dashboard_overview(
    request: Request,
    caller: LmsCallerDep,
    tenants: TenantsDep,
    clock: ClockDep,
    period: PeriodQuery = None,
    start_date: StartDateQuery = None,
    end_date: EndDateQuery = None,
    tenant_id: Annotated[
        str | None,
        Query(
            alias="tenantId",
            description="another tenant's overview: only for a `platform` admin (default: the credential's)",
            pattern=f"^{ID_CLASS}{{1,{MAX_TENANT_ID_LENGTH}}}$",
        ),
    ] = None,
) -> LmsResponse:
    """``SystemMetrics`` of the period (default: the last 30 days) and of the days just before it, and the
    five courses with the most active students in the period, in the tenant's zone."""
    tenant = caller.tenant_named(tenant_id)
    zone = await tenants.zone(tenant)
    days = resolve_days(
        tenant, zone, clock().astimezone(zone).date(), period=period, start_date=start_date, end_date=end_date
    )
    length = timedelta(days=(days.last - days.first).days + 1)
    previous = lms.LmsPeriod(tenant, zone, days.first - length, days.last - length)
    catalog = await caller.catalog_snapshot(tenant)  # its live courses: the catalog's courses now
    (current_metrics, previous_metrics), active = await asyncio.gather(
        system_metrics_by_period(caller.store, [days.period, previous], catalog.courses),
        active_students(caller.store, days.period),  # every course: the catalog's are picked below
    )
    ranked = contenders(active, catalog.teachers, TOP_COURSES)
    courses = await lms.course_analytics(caller.store, days.period, ranked, catalog.courses)
    top = sorted(courses.values(), key=lambda c: (-c.active_students, -c.engagement_score, c.course_id))
    return answer(request, DashboardOverview(tenant, current_metrics, previous_metrics, top[:TOP_COURSES]))
