"""``ActivityHeatmap`` (the admin ``users/activity-heatmap`` read): when the tenant's people are active, as
learning events by local weekday and hour (the tenant's zone, wall clock: a DST change moves no event to
another hour), from the ``events_by_hour`` breakdown of ``rollup_lms_user_days`` (every user type)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from query_api.lms.grains import period_condition
from query_api.lms.models import LmsPeriod
from query_api.lms.state import period_params
from query_api.store import QueryStore
from schemas.rollups import rollup

USER_DAYS = rollup("lms_user_days")
HOURS_PER_WEEK = 7 * 24


@dataclass(frozen=True, slots=True)
class HeatmapCell:
    weekday: int
    """ISO weekday: Monday 1 … Sunday 7"""
    hour: int | None
    """local hour 0–23; ``None`` in a cell of a whole day (``DAILY``)"""
    events: int


@dataclass(frozen=True, slots=True)
class ActivityHeatmap:
    tenant_id: str
    period_start: date
    period_end: date
    granularity: str
    total_events: int
    cells: list[HeatmapCell]
    """every cell, empty ones included: weekday then hour"""


async def events_by_hour_of_week(store: QueryStore, period: LmsPeriod) -> list[int]:
    """Learning events of the period per local hour of the week (168 counts, Monday 00:00 first)."""
    params = period_params(period)
    covered = period_condition(period.first, period.last, params)
    rows = await store.rows(
        f"SELECT sumMap(events_by_hour) FROM {USER_DAYS.table} "
        f"WHERE tenant_id = {{tenant:String}} AND {covered}",
        params,
    )
    counts = [0] * HOURS_PER_WEEK
    for hour, events in dict(rows[0][0] if rows else {}).items():
        counts[int(hour)] += int(events)
    return counts


async def activity_heatmap(store: QueryStore, period: LmsPeriod, hourly: bool) -> ActivityHeatmap:
    counts = await events_by_hour_of_week(store, period)
    if hourly:
        cells = [HeatmapCell(h // 24 + 1, h % 24, counts[h]) for h in range(HOURS_PER_WEEK)]
    else:
        cells = [HeatmapCell(d + 1, None, sum(counts[d * 24 : d * 24 + 24])) for d in range(7)]
    return ActivityHeatmap(
        period.tenant_id, period.first, period.last, "HOURLY" if hourly else "DAILY", sum(counts), cells
    )
