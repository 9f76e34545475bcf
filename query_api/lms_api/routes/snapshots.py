"""Analytics snapshots (the seed's ``AnalyticsSnapshot``, ADR 0017) for the tenant's admins: ``POST``
captures the data of the named custom metrics and widgets for a period, as the custom-metric engine
computes them now, and stores it as it is; ``GET`` lists (``type``, ``startDate``, ``endDate``, paged) and
reads them; ``DELETE`` removes one (soft). A snapshot is never recomputed: it answers the same aggregates
after the rows they came from changed, expired or were erased. It holds aggregates only."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from plumbing.http_errors import AnalyticsError
from query_api.api.deps import ClockDep, TenantsDep
from query_api.lms_api.access import LmsCallerDep
from query_api.lms_api.config_http import (
    ConfigDbDep,
    actor_of,
    entity_answer,
    list_answer,
    soft_delete,
    writing,
)
from query_api.lms_api.params import EndDateQuery, LimitQuery, PageQuery, StartDateQuery
from query_api.lms_api.periods import parse_day, resolve_days
from query_api.lms_api.responses import LMS_ERRORS, LmsResponse, pagination
from query_api.lms_api.routes.custom_metrics import TimeRangeFilter
from query_api.lms_config.metric_engine import CalculationError, MetricType, calculate, parse_config, plan
from query_api.lms_config.models import AuditFields, Document, Name
from query_api.lms_config.tables import METRICS, SNAPSHOTS, WIDGETS
from query_api.lms_config.widget_data import custom_metrics_of, points_json, widgets_data
from schemas.config_models import AnalyticsSnapshot
from schemas.lms_envelope import AnalyticsErrorCode

router = APIRouter(prefix="/api/admin/analytics/snapshots", tags=["lms: snapshots"])
SnapshotIdPath = Annotated[int, Path(alias="snapshotId", ge=1, le=2**31 - 1, description="the snapshot's id")]
MAX_SOURCES = 50
Ids = Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]], Field(max_length=MAX_SOURCES)]
SnapshotType = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,49}$"),
    Field(description="what kind of snapshot (`daily`, `weekly`, `monthly`, … lower-case)"),
]


class SnapshotSources(BaseModel):
    """What a snapshot captures: custom metrics and widgets of the tenant, by id."""

    model_config = ConfigDict(extra="forbid")

    custom_metrics: Ids = []
    widgets: Ids = []


class SnapshotCreate(BaseModel):
    """``Omit<AnalyticsSnapshot, 'snapshot_id' | BaseAuditFields>`` but ``data``, which the server captures
    from ``sources`` over ``timeRange`` (default the last 30 days); ``snapshot_date`` is when it is taken."""

    model_config = ConfigDict(extra="forbid")

    snapshot_name: Name
    snapshot_type: SnapshotType
    sources: SnapshotSources
    timeRange: TimeRangeFilter | None = None  # noqa: N815
    metadata: Document | None = None


class SnapshotOut(AuditFields):
    """The seed's ``AnalyticsSnapshot``."""

    snapshot_id: int
    snapshot_name: str
    snapshot_type: str
    snapshot_date: datetime
    data: dict[str, Any]
    metadata: dict[str, Any] | None


def _out(row: AnalyticsSnapshot) -> dict[str, Any]:
    fields = {**AuditFields.model_validate(row, from_attributes=True).model_dump()}
    return SnapshotOut(
        **fields,
        snapshot_id=row.snapshot_id,
        snapshot_name=row.snapshot_name,
        snapshot_type=row.snapshot_type,
        snapshot_date=row.snapshot_date,
        data=row.data,
        metadata=row.snapshot_metadata,
    ).model_dump(mode="json")


def _json(value: Any) -> Any:
    """As stored: JSON numbers and ISO dates (decimals as the API renders them)."""

    def default(item: Any) -> Any:
        if isinstance(item, Decimal):
            return float(item)
        raise TypeError(type(item).__name__)

    return orjson.loads(orjson.dumps(value, default=default))


def _missing(kind: str, ids: list[int]) -> AnalyticsError:
    field = f"sources.{kind}"
    message = f"no {kind.replace('_', ' ')} {', '.join(map(str, ids))} in this tenant"
    return AnalyticsError(404, AnalyticsErrorCode.NOT_FOUND, message, {field: [message]})


@router.post("", status_code=201, response_class=LmsResponse, responses=LMS_ERRORS)
async def create_snapshot(
    request: Request,
    body: SnapshotCreate,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    tenants: TenantsDep,
    clock: ClockDep,
) -> LmsResponse:
    """Capture the named custom metrics' and widgets' data now (201)."""
    caller.require_admin()
    window = body.timeRange or TimeRangeFilter()
    zone = await tenants.zone(caller.tenant_id)
    taken_at = clock()
    days = resolve_days(
        caller.tenant_id,
        zone,
        taken_at.astimezone(zone).date(),
        period=window.period,
        start_date=window.startDate,
        end_date=window.endDate,
    )
    metric_ids, widget_ids = sorted(set(body.sources.custom_metrics)), sorted(set(body.sources.widgets))
    async with writing(database, "the snapshot", "sources") as session:
        metrics = {
            m.metric_id: m
            for m in (
                await METRICS.page(session, caller.tenant_id, 1, MAX_SOURCES, METRICS.key.in_(metric_ids))
            )[0]
        }
        widgets = list(
            (await WIDGETS.page(session, caller.tenant_id, 1, MAX_SOURCES, WIDGETS.key.in_(widget_ids)))[0]
        )
        widget_metrics = await custom_metrics_of(session, caller.tenant_id, widgets)
    if missing := [i for i in metric_ids if i not in metrics]:
        raise _missing("custom_metrics", missing)
    if missing := [i for i in widget_ids if i not in {w.widget_id for w in widgets}]:
        raise _missing("widgets", missing)
    captured_metrics = []
    for metric_id in metric_ids:
        metric = metrics[metric_id]
        try:
            checked = plan(MetricType(metric.metric_type), parse_config(metric.calculation_config))
        except CalculationError as exc:
            raise AnalyticsError(
                422,
                AnalyticsErrorCode.CALCULATION_ERROR,
                exc.message,
                {"sources.custom_metrics": [exc.message]},
            ) from exc
        value, points = await calculate(caller.store, checked, days)
        captured_metrics.append(
            {
                "metric_id": metric_id,
                "metric_name": metric.metric_name,
                "metric_type": metric.metric_type,
                "value": value,
                "points": points_json(points),
            }
        )
    outcomes = await widgets_data(caller.store, widgets, widget_metrics, days)
    data = {
        "period_start": days.first,
        "period_end": days.last,
        "time_zone": zone.key,
        "custom_metrics": captured_metrics,
        "widgets": [
            {"widget_id": w.widget_id, "widget_name": w.widget_name, "data": found, "error": error}
            for w, (found, error) in zip(widgets, outcomes, strict=True)
        ],
    }
    actor = actor_of(request, caller)
    async with writing(database, "the snapshot", "snapshot_name") as session:
        row = await SNAPSHOTS.create(
            session,
            actor,
            {
                "snapshot_name": body.snapshot_name,
                "snapshot_type": body.snapshot_type,
                "snapshot_date": taken_at,
                "data": _json(data),
                "snapshot_metadata": body.metadata,
            },
        )
    caller.record_change("lms_config_create", f"snapshot:{row.snapshot_id}")
    return entity_answer(request, _out(row), row.version, status=201)


@router.get("", response_class=LmsResponse, responses=LMS_ERRORS)
async def list_snapshots(
    request: Request,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    tenants: TenantsDep,
    snapshot_type: Annotated[SnapshotType | None, Query(alias="type")] = None,
    start_date: StartDateQuery = None,
    end_date: EndDateQuery = None,
    page: PageQuery = 1,
    limit: LimitQuery = 50,
) -> LmsResponse:
    """The tenant's snapshots, oldest first: of one ``type``, taken on local days ``startDate`` …
    ``endDate`` (either bound alone)."""
    caller.require_admin()
    zone = await tenants.zone(caller.tenant_id)
    conditions: list[Any] = []
    if snapshot_type is not None:
        conditions.append(AnalyticsSnapshot.snapshot_type == snapshot_type)
    if start_date is not None:
        first = parse_day("startDate", start_date)
        conditions.append(AnalyticsSnapshot.snapshot_date >= datetime.combine(first, time(), zone))
    if end_date is not None:
        last = parse_day("endDate", end_date)
        conditions.append(
            AnalyticsSnapshot.snapshot_date < datetime.combine(last + timedelta(days=1), time(), zone)
        )
    async with database.session() as session:
        rows, total = await SNAPSHOTS.page(session, caller.tenant_id, page, limit, *conditions)
    return list_answer(request, [_out(r) for r in rows], pagination(page, limit, total))


@router.get("/{snapshotId}", response_class=LmsResponse, responses=LMS_ERRORS)
async def get_snapshot(
    request: Request, snapshot_id: SnapshotIdPath, caller: LmsCallerDep, database: ConfigDbDep
) -> LmsResponse:
    """One snapshot, its data as captured."""
    caller.require_admin()
    async with writing(database, f"snapshot {snapshot_id}", "snapshotId") as session:
        row = await SNAPSHOTS.get(session, caller.tenant_id, snapshot_id)
    return entity_answer(request, _out(row), row.version)


@router.delete("/{snapshotId}", response_class=LmsResponse, responses=LMS_ERRORS)
async def delete_snapshot(
    request: Request, snapshot_id: SnapshotIdPath, caller: LmsCallerDep, database: ConfigDbDep
) -> LmsResponse:
    """Delete a snapshot (soft): ``{message}`` as the seed answers."""
    row = await soft_delete(request, caller, database, SNAPSHOTS, "snapshot", snapshot_id, "snapshotId")
    return entity_answer(request, {"message": f"snapshot {snapshot_id} deleted"}, row.version)
