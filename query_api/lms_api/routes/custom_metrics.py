"""Custom metrics (the seed's ``CustomMetric``, ADR 0017 §6) for the tenant's admins: create, list, read,
change (``If-Match``), soft-delete, and ``POST …/{metricId}/calculate``, which computes the metric over a
period with :mod:`query_api.lms_config.metric_engine`, stores the ``CustomMetricResult`` and answers it.
A configuration the engine cannot compute is refused when it is saved (422 ``CALCULATION_ERROR`` naming
the field), not first when it is calculated."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict

from plumbing.http_errors import AnalyticsError
from query_api.api.deps import ClockDep, TenantsDep
from query_api.api.params import Day
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
from query_api.lms_api.params import LimitQuery, PageQuery
from query_api.lms_api.periods import AnalyticsPeriod, resolve_days
from query_api.lms_api.responses import LMS_ERRORS, LmsResponse, error_doc, pagination
from query_api.lms_config.metric_engine import (
    CalculationError,
    MetricType,
    Point,
    calculate,
    parse_config,
    plan,
)
from query_api.lms_config.models import UNSET, AuditFields, Description, Document, Name
from query_api.lms_config.tables import METRICS, RESULTS
from schemas.config_models import CustomMetric, CustomMetricResult
from schemas.lms_envelope import AnalyticsErrorCode

router = APIRouter(prefix="/api/admin/analytics/custom-metrics", tags=["lms: custom metrics"])
MetricIdPath = Annotated[int, Path(alias="metricId", ge=1, le=2**31 - 1, description="the metric's id")]

CALCULATION = error_doc(
    422,
    "the configuration names a measure, dimension, operator or value the catalog does not know",
    AnalyticsErrorCode.CALCULATION_ERROR,
    "unknown measure 'course_activity.likes'",
    "calculation_config.measure",
)
ERRORS: dict[int | str, dict[str, Any]] = {**LMS_ERRORS, 422: CALCULATION}


class MetricCreate(BaseModel):
    """``Omit<CustomMetric, 'metric_id' | BaseAuditFields>``; the tenant is the credential's."""

    model_config = ConfigDict(extra="forbid")

    metric_name: Name
    metric_description: Description | None = None
    metric_type: MetricType
    calculation_config: Document


class MetricUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric_name: Name = UNSET
    metric_description: Description | None = None
    metric_type: MetricType = UNSET
    calculation_config: Document = UNSET


class MetricOut(AuditFields):
    """The seed's ``CustomMetric``."""

    metric_id: int
    metric_name: str
    metric_description: str | None
    metric_type: MetricType
    calculation_config: dict[str, Any]


class TimeRangeFilter(BaseModel):
    """The seed's ``TimeRangeFilter`` (unnamed there): a named ``period`` or ``startDate``/``endDate``
    (local days of the tenant's zone; default the last 30 days)."""

    model_config = ConfigDict(extra="forbid")

    period: AnalyticsPeriod | None = None
    startDate: Day | None = None  # noqa: N815
    endDate: Day | None = None  # noqa: N815


class CalculateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parameters: Document | None = None
    timeRange: TimeRangeFilter | None = None  # noqa: N815


class PointOut(BaseModel):
    period_start: date
    period_end: date
    value: Decimal | int | None


class MetricResultOut(BaseModel):
    """``CustomMetricResult`` (unnamed in the seed, ``docs/metrics.md``): the metric's value over the
    period (``points``: a ``TREND``'s buckets), as computed and stored."""

    result_id: int
    metric_id: int
    metric_name: str
    metric_type: MetricType
    tenant_id: str
    period_start: date
    period_end: date
    parameters: dict[str, Any]
    value: Decimal | int | None
    points: list[PointOut]
    calculated_at: datetime
    calculated_by: str


def _calculation_error(exc: CalculationError) -> AnalyticsError:
    return AnalyticsError(422, AnalyticsErrorCode.CALCULATION_ERROR, exc.message, {exc.field: [exc.message]})


def _checked(metric_type: MetricType, config: dict[str, Any]) -> None:
    try:
        plan(metric_type, parse_config(config))
    except CalculationError as exc:
        raise _calculation_error(exc) from exc


def _out(row: CustomMetric) -> dict[str, Any]:
    return MetricOut.model_validate(row, from_attributes=True).model_dump(mode="json")


def _exact(value: Decimal | int | None) -> str | int | None:
    """A value as stored: decimals as text (exact), whole numbers as numbers."""
    return str(value) if isinstance(value, Decimal) else value


def _read(value: Any) -> Decimal | int | None:
    return Decimal(value) if isinstance(value, str) else value


def _result_out(row: CustomMetricResult, metric: CustomMetric) -> dict[str, Any]:
    stored = row.result
    return MetricResultOut(
        result_id=row.result_id,
        metric_id=metric.metric_id,
        metric_name=metric.metric_name,
        metric_type=MetricType(metric.metric_type),
        tenant_id=row.tenant_id,
        period_start=row.period_start,
        period_end=row.period_end,
        parameters=row.parameters,
        value=_read(stored["value"]),
        points=[
            PointOut(period_start=p["period_start"], period_end=p["period_end"], value=_read(p["value"]))
            for p in stored["points"]
        ],
        calculated_at=row.created_at,
        calculated_by=row.created_by,
    ).model_dump()


@router.post("", status_code=201, response_class=LmsResponse, responses=ERRORS)
async def create_custom_metric(
    request: Request, body: MetricCreate, caller: LmsCallerDep, database: ConfigDbDep
) -> LmsResponse:
    """Define a custom metric (201); its configuration is checked against the catalog (422)."""
    caller.require_admin()
    _checked(body.metric_type, body.calculation_config)
    actor = actor_of(request, caller)
    async with writing(database, "the custom metric", "metric_name") as session:
        row = await METRICS.create(session, actor, body.model_dump(mode="json"))
    caller.record_change("lms_config_create", f"custom_metric:{row.metric_id}")
    return entity_answer(request, _out(row), row.version, status=201)


@router.get("", response_class=LmsResponse, responses=ERRORS)
async def list_custom_metrics(
    request: Request, caller: LmsCallerDep, database: ConfigDbDep, page: PageQuery = 1, limit: LimitQuery = 50
) -> LmsResponse:
    """The tenant's live custom metrics, by id."""
    caller.require_admin()
    async with database.session() as session:
        rows, total = await METRICS.page(session, caller.tenant_id, page, limit)
    return list_answer(request, [_out(r) for r in rows], pagination(page, limit, total))


@router.get("/{metricId}", response_class=LmsResponse, responses=ERRORS)
async def get_custom_metric(
    request: Request, metric_id: MetricIdPath, caller: LmsCallerDep, database: ConfigDbDep
) -> LmsResponse:
    caller.require_admin()
    async with writing(database, f"custom metric {metric_id}", "metricId") as session:
        row = await METRICS.get(session, caller.tenant_id, metric_id)
    return entity_answer(request, _out(row), row.version)


@router.patch("/{metricId}", response_class=LmsResponse, responses=ERRORS)
async def update_custom_metric(
    request: Request,
    metric_id: MetricIdPath,
    body: MetricUpdate,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    if_match: IfMatchHeader = None,
) -> LmsResponse:
    """Change a custom metric; the configuration that results is checked as on creation."""
    caller.require_admin()
    changes = patch_changes(body, METRICS.nullable)
    actor = actor_of(request, caller)
    async with writing(database, f"custom metric {metric_id}", "metricId") as session:
        current = await METRICS.get(session, caller.tenant_id, metric_id)
        _checked(
            MetricType(changes.get("metric_type", current.metric_type)),
            changes.get("calculation_config", current.calculation_config),
        )
        row = await METRICS.update(session, actor, metric_id, changes, based_on(if_match))
    caller.record_change("lms_config_update", f"custom_metric:{metric_id}")
    return entity_answer(request, _out(row), row.version)


@router.delete("/{metricId}", response_class=LmsResponse, responses=ERRORS)
async def delete_custom_metric(
    request: Request,
    metric_id: MetricIdPath,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    if_match: IfMatchHeader = None,
) -> LmsResponse:
    """Soft-delete a custom metric: ``{message}`` as the seed answers."""
    row = await soft_delete(
        request, caller, database, METRICS, "custom metric", metric_id, "metricId", if_match
    )
    return entity_answer(request, {"message": f"custom metric {metric_id} deleted"}, row.version)


@router.post("/{metricId}/calculate", response_class=LmsResponse, responses=ERRORS)
async def calculate_custom_metric(
    request: Request,
    metric_id: MetricIdPath,
    caller: LmsCallerDep,
    database: ConfigDbDep,
    tenants: TenantsDep,
    clock: ClockDep,
    body: CalculateRequest | None = None,
) -> LmsResponse:
    """Compute the metric over ``timeRange`` (default the last 30 days) with ``parameters`` (equality
    filters on the measures' dimensions), store the ``CustomMetricResult`` and answer it."""
    caller.require_admin()
    body = body or CalculateRequest()
    window = body.timeRange or TimeRangeFilter()
    zone = await tenants.zone(caller.tenant_id)
    days = resolve_days(
        caller.tenant_id,
        zone,
        clock().astimezone(zone).date(),
        period=window.period,
        start_date=window.startDate,
        end_date=window.endDate,
    )
    async with writing(database, f"custom metric {metric_id}", "metricId") as session:
        metric = await METRICS.get(session, caller.tenant_id, metric_id)
    parameters = body.parameters or {}
    try:
        checked = plan(MetricType(metric.metric_type), parse_config(metric.calculation_config), parameters)
    except CalculationError as exc:
        raise _calculation_error(exc) from exc
    value, points = await calculate(caller.store, checked, days)
    stored = {"value": _exact(value), "points": [_point(p) for p in points]}
    actor = actor_of(request, caller)
    async with writing(database, f"custom metric {metric_id}", "metricId") as session:
        row = await RESULTS.create(
            session,
            actor,
            {
                "metric_id": metric.metric_id,
                "period_start": days.first,
                "period_end": days.last,
                "parameters": parameters,
                "result": stored,
            },
        )
    caller.record_change("lms_metric_calculate", f"custom_metric:{metric_id}")
    return entity_answer(request, _result_out(row, metric), row.version)


def _point(point: Point) -> dict[str, Any]:
    return {
        "period_start": point.period_start.isoformat(),
        "period_end": point.period_end.isoformat(),
        "value": _exact(point.value),
    }
