"""``SystemMetrics``: a tenant's platform over a period.

People and courses from the current state (``lms_users``, ``lms_courses`` FINAL, as of the period's end);
activity from ``rollup_lms_user_days`` (active users: ``uniqExact(user_id)`` over the period's rows, every
user type; logins and sessions), ``rollup_lms_course_activity`` (active courses) and
``rollup_lms_video_views``; traffic, uptime and errors from ``rollup_lms_platform_traffic``; storage from
``rollup_lms_platform_storage`` (each source's newest sample on or before the last day, summed). Formulas:
:mod:`schemas.lms_measures`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from query_api.lms.grains import period_condition
from query_api.lms.models import LmsPeriod, SystemMetrics
from query_api.lms.state import period_params
from query_api.store import QueryStore
from schemas import lms_measures as measures
from schemas.rollups import rollup

USER_DAYS = rollup("lms_user_days")
COURSE_ACTIVITY = rollup("lms_course_activity")
VIDEO_VIEWS = rollup("lms_video_views")
TRAFFIC = rollup("lms_platform_traffic")
STORAGE = rollup("lms_platform_storage")


async def _one(store: QueryStore, sql: str, params: dict[str, Any]) -> Sequence[int]:
    rows = await store.rows(sql, params)
    return [int(v) for v in rows[0]] if rows else []


async def system_metrics(store: QueryStore, period: LmsPeriod) -> SystemMetrics:
    params = period_params(period)
    covered = period_condition(period.first, period.last, params)
    tenant = "tenant_id = {tenant:String}"
    (
        (users,),
        (active_users, logins, sessions_ended, session_seconds),
        (courses,),
        (active_courses,),
        (video_views,),
        (requests, errors, bytes_served, observed, up),
        (storage,),
    ) = await asyncio.gather(
        _one(
            store,
            f"SELECT count() FROM lms_users FINAL WHERE {tenant} AND is_deleted = 0 "
            "AND signed_up_at < {end:DateTime64(3, 'UTC')}",
            params,
        ),
        _one(
            store,
            "SELECT uniqExact(user_id), sum(logins), sum(sessions_ended), sum(session_seconds) "
            f"FROM {USER_DAYS.table} WHERE {tenant} AND {covered}",
            params,
        ),
        _one(
            store,
            f"SELECT count() FROM lms_courses FINAL WHERE {tenant} AND is_deleted = 0 AND is_published = 1 "
            "AND ifNull(published_at < {end:DateTime64(3, 'UTC')}, 1)",
            params,
        ),
        _one(
            store,
            f"SELECT uniqExact(course_id) FROM {COURSE_ACTIVITY.table} WHERE {tenant} AND {covered}",
            params,
        ),
        _one(
            store, f"SELECT sum(watch_sessions) FROM {VIDEO_VIEWS.table} WHERE {tenant} AND {covered}", params
        ),
        _one(
            store,
            "SELECT sum(requests), sum(errors), sum(bytes_served), sum(observed_seconds), sum(up_seconds) "
            f"FROM {TRAFFIC.table} WHERE {tenant} AND {covered}",
            params,
        ),
        _one(
            store,
            "SELECT sum(latest) FROM (SELECT source, argMaxMerge(storage_used_bytes) AS latest "
            f"FROM {STORAGE.table} WHERE {tenant} AND grain = 'daily' AND bucket <= {{last:Date}} "
            "GROUP BY source)",
            params,
        ),
    )
    return SystemMetrics(
        tenant_id=period.tenant_id,
        period_start=period.first,
        period_end=period.last,
        total_users=users,
        active_users=active_users,
        total_courses=courses,
        active_courses=active_courses,
        total_sessions=logins,
        average_session_duration=measures.average_minutes(session_seconds, sessions_ended),
        total_video_views=video_views,
        total_storage_used=storage,
        bandwidth_used=bytes_served,
        system_uptime=measures.uptime(up, observed),
        error_rate=measures.error_rate(errors, requests),
    )
