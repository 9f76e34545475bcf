"""``/api/admin/analytics/users/{userId}/monthly-metrics`` and ``/api/admin/analytics/system/...``: a person's
months, and the tenant's platform figures, for an admin (or service) credential."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Request

from plumbing.http_errors import AnalyticsError
from query_api import lms
from query_api.api.deps import ClockDep, TenantsDep
from query_api.lms.state import user_types_of
from query_api.lms_api import examples
from query_api.lms_api.access import LmsCallerDep
from query_api.lms_api.params import (
    EndDateQuery,
    GranularityQuery,
    MonthQuery,
    PeriodQuery,
    StartDateQuery,
    YearQuery,
    days_for,
    today_for,
)
from query_api.lms_api.periods import DayGranularity, day_buckets
from query_api.lms_api.responses import LmsResponse, answer, documented
from schemas.lms_envelope import AnalyticsErrorCode
from schemas.lms_payloads import MAX_LMS_ID

users = APIRouter(prefix="/api/admin/analytics/users", tags=["lms: user analytics"])
system = APIRouter(prefix="/api/admin/analytics/system", tags=["lms: system analytics"])

UserIdPath = Annotated[int, Path(alias="userId", ge=1, le=MAX_LMS_ID, description="the person's LMS user id")]


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
    kinds = await user_types_of(caller.store, caller.tenant_id, user_id)
    if not kinds:
        raise AnalyticsError(
            404,
            AnalyticsErrorCode.ANALYTICS_DATA_NOT_AVAILABLE,
            f"user {user_id} has no data in this tenant",
            {"userId": ["no such user"]},
        )
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


@system.get(
    "/usage",
    response_class=LmsResponse,
    responses=documented(list[lms.SystemMetrics], [examples.SYSTEM]),
)
async def get_system_usage(
    request: Request,
    caller: LmsCallerDep,
    tenants: TenantsDep,
    clock: ClockDep,
    period: PeriodQuery = None,
    start_date: StartDateQuery = None,
    end_date: EndDateQuery = None,
    granularity: GranularityQuery = DayGranularity.DAILY,
) -> LmsResponse:
    """``SystemMetrics`` of the tenant per ``granularity`` point of the period (default: the last 30 days,
    daily), oldest first."""
    caller.require_admin()
    days = await days_for(caller, tenants, clock, period, start_date, end_date)
    found = await asyncio.gather(
        *(lms.system_metrics(caller.store, bucket.period) for bucket in day_buckets(days, granularity))
    )
    return answer(request, list(found))


@system.get("/storage", response_class=LmsResponse, responses=documented(lms.SystemMetrics, examples.SYSTEM))
async def get_system_storage(
    request: Request,
    caller: LmsCallerDep,
    tenants: TenantsDep,
    clock: ClockDep,
    period: PeriodQuery = None,
    start_date: StartDateQuery = None,
    end_date: EndDateQuery = None,
) -> LmsResponse:
    """``SystemMetrics`` of the tenant over the period (default: the last 30 days):
    ``total_storage_used`` is the newest sample's by the period's end, ``bandwidth_used`` the bytes served
    in it."""
    caller.require_admin()
    days = await days_for(caller, tenants, clock, period, start_date, end_date)
    return answer(request, await lms.system_metrics(caller.store, days.period))
