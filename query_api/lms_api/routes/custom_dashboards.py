"""Custom dashboards and their widgets (the seed's ``DashboardWidget``; ADR 0017), for the tenant's admins:
create, list, read, change (``PATCH``, ``If-Match``) and soft-delete, in the configuration store.

The seed has ``POST``/``PATCH``/``DELETE …/dashboard/widgets[/{widgetId}]`` and refers to dashboards by
``dashboard_id`` only; dashboards themselves are created, listed, renamed and deleted under
``…/dashboards`` (plural: ``GET …/dashboard`` is the overview). A widget may belong to no dashboard yet.
Deleting a dashboard deletes its widgets.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plumbing.http_errors import AnalyticsError
from query_api.api.deps import ClockDep, TenantsDep
from query_api.lms_api.access import LmsCallerDep
from query_api.lms_api.config_http import (
    ConfigDbDep,
    IfMatchHeader,
    actor_of,
    based_on,
    entity_answer,
    list_answer,
    patch_changes,
    soft_delete,
    writing,
)
from query_api.lms_api.params import EndDateQuery, LimitQuery, PageQuery, PeriodQuery, StartDateQuery
from query_api.lms_api.periods import resolve_days
from query_api.lms_api.responses import LMS_ERRORS, LmsResponse, error_doc, pagination
from query_api.lms_config.data_sources import data_source_of
from query_api.lms_config.metric_engine import CalculationError
from query_api.lms_config.models import (
    DashboardCreate,
    DashboardOut,
    DashboardUpdate,
    WidgetCreate,
    WidgetOut,
    WidgetUpdate,
)
from query_api.lms_config.tables import DASHBOARDS, METRICS, WIDGETS
from query_api.lms_config.widget_data import custom_metrics_of, widgets_data
from schemas.config_models import Dashboard, DashboardWidget, utc_now
from schemas.lms_envelope import AnalyticsErrorCode

router = APIRouter(prefix="/api/admin/analytics", tags=["lms: custom dashboards"])
MAX_ID = 2**31 - 1
MAX_WIDGETS = 200
"""Widgets a dashboard shows (its data computed per request)."""
"""Ids are the store's 32-bit integers (the seed's ``Int``)."""

DashboardIdPath = Annotated[int, Path(alias="dashboardId", ge=1, le=MAX_ID, description="the dashboard's id")]
DashboardIdQuery = Annotated[
    int | None, Query(alias="dashboardId", ge=1, le=MAX_ID, description="one dashboard's widgets only")
]
WidgetIdPath = Annotated[int, Path(alias="widgetId", ge=1, le=MAX_ID, description="the widget's id")]
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **LMS_ERRORS,
    404: error_doc(
        404, "no such row in this tenant", AnalyticsErrorCode.NOT_FOUND, "widget 7 does not exist"
    ),
}
STALE = error_doc(
    412,
    "the row changed since the version `If-Match` names (or a concurrent write won): read it again",
    AnalyticsErrorCode.PRECONDITION_FAILED,
    "widget 7 changed since the version this write is based on (now version 3): read it again",
    "If-Match",
)
NAME_TAKEN = error_doc(
    409,
    "another live dashboard of the tenant has this name",
    AnalyticsErrorCode.CONFLICT,
    "the dashboard conflicts with another of this tenant: a dashboard of this name exists already",
)
SOURCE_ERROR = error_doc(
    422,
    "the widget's data_source (or its calculation in widget_config) cannot be computed",
    AnalyticsErrorCode.DASHBOARD_CONFIG_ERROR,
    "unknown measure 'course_activity.likes'",
    "data_source",
)
CHANGE_ERRORS = {**WRITE_ERRORS, 412: STALE}


def _dashboard_out(row: Dashboard, widgets: int = 0) -> dict[str, Any]:
    out = DashboardOut.model_validate(row, from_attributes=True)
    return out.model_copy(update={"widget_count": widgets}).model_dump(mode="json")


def _widget_out(row: DashboardWidget) -> dict[str, Any]:
    return WidgetOut.model_validate(row, from_attributes=True).model_dump(mode="json")


async def _require_dashboard(session: AsyncSession, tenant_id: str, dashboard_id: int | None) -> None:
    """A widget may be put only on a live dashboard of the caller's tenant (else 404 naming the field)."""
    if dashboard_id is None:
        return
    try:
        await DASHBOARDS.get(session, tenant_id, dashboard_id)
    except LookupError as exc:
        raise AnalyticsError(
            404,
            AnalyticsErrorCode.DASHBOARD_CONFIG_ERROR,
            f"dashboard {dashboard_id} does not exist",
            {"dashboard_id": [f"no dashboard {dashboard_id} in this tenant"]},
        ) from exc


async def _check_source(
    session: AsyncSession, tenant_id: str, data_source: str, widget_config: dict[str, Any]
) -> None:
    """A widget's source must compute: a measure of the catalog with a valid calculation, or a live custom
    metric of the tenant (422 ``DASHBOARD_CONFIG_ERROR`` naming the field otherwise)."""
    try:
        source = data_source_of(data_source, widget_config)
    except CalculationError as exc:
        raise AnalyticsError(
            422, AnalyticsErrorCode.DASHBOARD_CONFIG_ERROR, exc.message, {exc.field: [exc.message]}
        ) from exc
    if source.custom_metric_id is not None:
        try:
            await METRICS.get(session, tenant_id, source.custom_metric_id)
        except LookupError as exc:
            message = f"no custom metric {source.custom_metric_id} in this tenant"
            raise AnalyticsError(
                422, AnalyticsErrorCode.DASHBOARD_CONFIG_ERROR, message, {"data_source": [message]}
            ) from exc


async def _widget_counts(session: AsyncSession, tenant_id: str, ids: list[int]) -> dict[int, int]:
    rows = await session.execute(
        select(DashboardWidget.dashboard_id, func.count())
        .where(
            DashboardWidget.tenant_id == tenant_id,
            DashboardWidget.is_deleted.is_(False),
            DashboardWidget.dashboard_id.in_(ids),
        )
        .group_by(DashboardWidget.dashboard_id)
    )
    return {int(dashboard): int(count) for dashboard, count in rows.all() if dashboard is not None}


# ---- dashboards ------------------------------------------------------------------------------------------


@router.post(
    "/dashboards", status_code=201, response_class=LmsResponse, responses={**WRITE_ERRORS, 409: NAME_TAKEN}
)
async def create_dashboard(
    request: Request, body: DashboardCreate, caller: LmsCallerDep, database: ConfigDbDep
) -> LmsResponse:
    """Create a custom dashboard (201); its name is unique among the tenant's live dashboards (409)."""
    caller.require_admin()
    actor = actor_of(request, caller)
    async with writing(database, "the dashboard", "dashboard_name") as session:
        row = await DASHBOARDS.create(session, actor, body.model_dump())
    caller.record_change("lms_config_create", f"dashboard:{row.dashboard_id}")
    return entity_answer(request, _dashboard_out(row), row.version, status=201)


@router.get("/dashboards", response_class=LmsResponse, responses=WRITE_ERRORS)
async def list_dashboards(
    request: Request, caller: LmsCallerDep, database: ConfigDbDep, page: PageQuery = 1, limit: LimitQuery = 50
) -> LmsResponse:
    """The tenant's live dashboards, by id, with how many widgets each has."""
    caller.require_admin()
    async with database.session() as session:
        rows, total = await DASHBOARDS.page(session, caller.tenant_id, page, limit)
        counts = await _widget_counts(session, caller.tenant_id, [r.dashboard_id for r in rows])
    data = [_dashboard_out(r, counts.get(r.dashboard_id, 0)) for r in rows]
    return list_answer(request, data, pagination(page, limit, total))


@router.patch(
    "/dashboards/{dashboardId}", response_class=LmsResponse, responses={**CHANGE_ERRORS, 409: NAME_TAKEN}
)
async def update_dashboard(
    request: Request,
    dashboard_id: DashboardIdPath,
    body: DashboardUpdate,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    if_match: IfMatchHeader = None,
) -> LmsResponse:
    """Rename or describe a dashboard; ``If-Match`` with its ``ETag`` refuses a stale write (412)."""
    caller.require_admin()
    changes = patch_changes(body, DASHBOARDS.nullable)
    actor = actor_of(request, caller)
    async with writing(database, f"dashboard {dashboard_id}", "dashboardId") as session:
        row = await DASHBOARDS.update(session, actor, dashboard_id, changes, based_on(if_match))
        counts = await _widget_counts(session, caller.tenant_id, [dashboard_id])
    caller.record_change("lms_config_update", f"dashboard:{dashboard_id}")
    return entity_answer(request, _dashboard_out(row, counts.get(dashboard_id, 0)), row.version)


@router.delete("/dashboards/{dashboardId}", response_class=LmsResponse, responses=CHANGE_ERRORS)
async def delete_dashboard(
    request: Request,
    dashboard_id: DashboardIdPath,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    if_match: IfMatchHeader = None,
) -> LmsResponse:
    """Soft-delete a dashboard and its widgets; answers the deleted dashboard."""
    caller.require_admin()
    actor = actor_of(request, caller)
    async with writing(database, f"dashboard {dashboard_id}", "dashboardId") as session:
        row = await DASHBOARDS.delete(session, actor, dashboard_id, based_on(if_match))
        await session.execute(
            update(DashboardWidget)
            .where(
                DashboardWidget.tenant_id == caller.tenant_id,
                DashboardWidget.dashboard_id == dashboard_id,
                DashboardWidget.is_deleted.is_(False),
            )
            .values(
                is_deleted=True,
                is_active=False,
                updated_at=utc_now(),
                updated_by=actor.subject,
                updated_ip=actor.address,
                version=DashboardWidget.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
    caller.record_change("lms_config_delete", f"dashboard:{dashboard_id}")
    return entity_answer(request, _dashboard_out(row), row.version)


# ---- widgets ---------------------------------------------------------------------------------------------


@router.post(
    "/dashboard/widgets",
    status_code=201,
    response_class=LmsResponse,
    responses={**WRITE_ERRORS, 422: SOURCE_ERROR},
)
async def create_widget(
    request: Request, body: WidgetCreate, caller: LmsCallerDep, database: ConfigDbDep
) -> LmsResponse:
    """Create a dashboard widget (201): ``Omit<DashboardWidget, 'widget_id' | BaseAuditFields>``."""
    caller.require_admin()
    actor = actor_of(request, caller)
    async with writing(database, "the widget", "widget_name") as session:
        await _require_dashboard(session, caller.tenant_id, body.dashboard_id)
        await _check_source(session, caller.tenant_id, body.data_source, body.widget_config)
        row = await WIDGETS.create(session, actor, body.model_dump(mode="json"))
    caller.record_change("lms_config_create", f"widget:{row.widget_id}")
    return entity_answer(request, _widget_out(row), row.version, status=201)


@router.get("/dashboard/widgets", response_class=LmsResponse, responses=WRITE_ERRORS)
async def list_widgets(
    request: Request,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    dashboard_id: DashboardIdQuery = None,
    page: PageQuery = 1,
    limit: LimitQuery = 50,
) -> LmsResponse:
    """The tenant's live widgets, by id (``dashboardId``: of that dashboard only)."""
    caller.require_admin()
    only = [] if dashboard_id is None else [DashboardWidget.dashboard_id == dashboard_id]
    async with database.session() as session:
        rows, total = await WIDGETS.page(session, caller.tenant_id, page, limit, *only)
    return list_answer(request, [_widget_out(r) for r in rows], pagination(page, limit, total))


@router.get("/dashboard/widgets/{widgetId}", response_class=LmsResponse, responses=WRITE_ERRORS)
async def get_widget(
    request: Request,
    widget_id: WidgetIdPath,
    caller: LmsCallerDep,
    database: ConfigDbDep,
) -> LmsResponse:
    """One widget, its version as ``ETag``."""
    caller.require_admin()
    async with writing(database, f"widget {widget_id}", "widgetId") as session:
        row = await WIDGETS.get(session, caller.tenant_id, widget_id)
    return entity_answer(request, _widget_out(row), row.version)


@router.patch(
    "/dashboard/widgets/{widgetId}",
    response_class=LmsResponse,
    responses={**CHANGE_ERRORS, 422: SOURCE_ERROR},
)
async def update_widget(
    request: Request,
    widget_id: WidgetIdPath,
    body: WidgetUpdate,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    if_match: IfMatchHeader = None,
) -> LmsResponse:
    """Change a widget (``Partial<…>``); ``If-Match`` with its ``ETag`` refuses a stale write (412)."""
    caller.require_admin()
    changes = patch_changes(body, WIDGETS.nullable)
    actor = actor_of(request, caller)
    async with writing(database, f"widget {widget_id}", "widgetId") as session:
        if changes.get("dashboard_id") is not None:
            await _require_dashboard(session, caller.tenant_id, changes["dashboard_id"])
        if "data_source" in changes or "widget_config" in changes:
            current = await WIDGETS.get(session, caller.tenant_id, widget_id)
            await _check_source(
                session,
                caller.tenant_id,
                changes.get("data_source", current.data_source),
                changes.get("widget_config", current.widget_config),
            )
        row = await WIDGETS.update(session, actor, widget_id, changes, based_on(if_match))
    caller.record_change("lms_config_update", f"widget:{widget_id}")
    return entity_answer(request, _widget_out(row), row.version)


@router.delete("/dashboard/widgets/{widgetId}", response_class=LmsResponse, responses=CHANGE_ERRORS)
async def delete_widget(
    request: Request,
    widget_id: WidgetIdPath,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    if_match: IfMatchHeader = None,
) -> LmsResponse:
    """Soft-delete a widget; answers the deleted widget."""
    row = await soft_delete(request, caller, database, WIDGETS, "widget", widget_id, "widgetId", if_match)
    return entity_answer(request, _widget_out(row), row.version)


# ---- a dashboard with its widgets' data -------------------------------------------------------------------


@router.get("/dashboard/{dashboardId}", response_class=LmsResponse, responses=WRITE_ERRORS)
async def get_custom_dashboard(
    request: Request,
    dashboard_id: DashboardIdPath,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    tenants: TenantsDep,
    clock: ClockDep,
    period: PeriodQuery = None,
    start_date: StartDateQuery = None,
    end_date: EndDateQuery = None,
) -> LmsResponse:
    """``CustomDashboard``: the dashboard and its live widgets (by row, then column), each with its data
    computed from its ``data_source`` for the period (default the last 30 days, the tenant's local days),
    or an ``error`` in its place when its source cannot be computed any more."""
    caller.require_admin()
    zone = await tenants.zone(caller.tenant_id)
    today = clock().astimezone(zone).date()
    days = resolve_days(
        caller.tenant_id, zone, today, period=period, start_date=start_date, end_date=end_date
    )
    async with writing(database, f"dashboard {dashboard_id}", "dashboardId") as session:
        board = await DASHBOARDS.get(session, caller.tenant_id, dashboard_id)
        widgets, _ = await WIDGETS.page(
            session, caller.tenant_id, 1, MAX_WIDGETS, DashboardWidget.dashboard_id == dashboard_id
        )
        metrics = await custom_metrics_of(session, caller.tenant_id, widgets)
    placed = sorted(widgets, key=lambda w: (w.position_y, w.position_x, w.widget_id))
    outcomes = await widgets_data(caller.store, placed, metrics, days)
    data = {
        **_dashboard_out(board, len(placed)),
        "period_start": days.first.isoformat(),
        "period_end": days.last.isoformat(),
        "widgets": [
            {**_widget_out(widget), "data": found, "error": error}
            for widget, (found, error) in zip(placed, outcomes, strict=True)
        ],
    }
    return entity_answer(request, data, board.version)
