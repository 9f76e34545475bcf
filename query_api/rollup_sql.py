"""SQL sources over rollup tables for a range, from the plan of :func:`query_api.periods.plan`.

A source is one ``SELECT`` of a rollup's table filtered by tenant (always), user (when the scope has one)
and, per planned segment, grain and bucket range, so readers aggregate it like one table. Values are bound as
server-side parameters; only table names (from the declarations) are interpolated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from query_api.periods import Range, plan, plan_adjacent, series_grain
from query_api.raw_feeds import raw_feed
from query_api.readers.common import ch_time
from schemas.rollups import Grain, Rollup, grain_condition


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose data: always one tenant; one user, or the whole tenant when ``user_id`` is ``None``."""

    tenant_id: str
    user_id: str | None


def scope_params(scope: Scope) -> dict[str, Any]:
    params: dict[str, Any] = {"tenant": scope.tenant_id}
    if scope.user_id is not None:
        params["user"] = scope.user_id
    return params


def scope_filter(scope: Scope) -> str:
    """The tenant (and user) condition every statement carries."""
    user = " AND user_id = {user:String}" if scope.user_id is not None else ""
    return "tenant_id = {tenant:String}" + user


def _rollup_rows(
    item: Rollup,
    span: Range,
    scope: Scope,
    params: dict[str, Any],
    prefix: str,
    where: str,
    before: Range | None,
    final: bool = True,
) -> str:
    """``<table>[ FINAL] WHERE <scope, grain and bucket conditions>``, the rest of a ``SELECT … FROM``."""
    assert span.first_day is not None and span.last_day is not None, "day ranges only"
    params.update(scope_params(scope))
    merged = " FINAL" if item.replacing_version and final else ""
    extra = f" AND {where}" if where else ""
    segments = plan(span.first_day, span.last_day) if before is None else plan_adjacent(before, span)
    ranges = []
    for index, segment in enumerate(segments):
        first, last = f"{prefix}{index}_first", f"{prefix}{index}_last"
        params[first], params[last] = segment.first, segment.last
        ranges.append((segment.grain, f"{{{first}:Date}}", f"{{{last}:Date}}"))
    return f"{item.table}{merged} WHERE {scope_filter(scope)} AND {grain_condition(ranges)}{extra}"


def select_rows(
    item: Rollup,
    span: Range,
    scope: Scope,
    params: dict[str, Any],
    select: str,
    *,
    prefix: str = "c",
    where: str = "",
    before: Range | None = None,
    tail: str = "",
    final: bool = True,
) -> str:
    """``SELECT {select} FROM <item's rows for span> {tail}`` (``tail``: ``GROUP BY …`` and the like).

    A day range reads the rollup table directly, with no subquery: chDB analyses each nested ``SELECT``
    before it runs, a sizeable share of a small statement (ADR 0005). An hourly range selects from a
    subquery of raw rows shaped like the rollup's (``before`` is for day ranges only). ``final=False``
    reads a replacing rollup's stored versions as they are (``FINAL`` costs chDB time on every table it
    reads): the caller keeps the newest version of each key itself."""
    if span.is_hourly:
        assert before is None, "one hourly range per source"
        rows = raw_source(item, span, scope, params, prefix, "*", where)
    else:
        rows = _rollup_rows(item, span, scope, params, prefix, where, before, final)
    return f"SELECT {select} FROM {rows}" + (f" {tail}" if tail else "")


def raw_source(
    item: Rollup,
    span: Range,
    scope: Scope,
    params: dict[str, Any],
    prefix: str = "c",
    columns: str = "*",
    where: str = "",
) -> str:
    """Rows shaped like ``item``'s rollup table, aggregated from raw rows in ``span`` with hourly buckets
    (UTC hours; daily usage summaries keep their ``date``). For ranges without whole days."""
    raw = raw_feed(item.feed)
    params.update(scope_params(scope))
    start, end = f"{prefix}_start_time", f"{prefix}_end_time"
    if raw.timed:
        params[start], params[end] = ch_time(span.start), ch_time(span.end)
        window = (
            f"timestamp >= {{{start}:DateTime64(3, 'UTC')}} AND timestamp < {{{end}:DateTime64(3, 'UTC')}}"
        )
        bucket = "toStartOfHour(timestamp)"
    else:
        params[start], params[end] = summary_days(span)
        window = f"date BETWEEN {{{start}:Date}} AND {{{end}:Date}}"
        bucket = "date"
    feed_columns = ", ".join(f"{expression} AS {name}" for name, expression in raw.columns.items())
    rows = (
        f"SELECT {feed_columns}, {bucket} AS bucket FROM {raw.table} FINAL {raw.array_join} "
        f"WHERE {scope_filter(scope)} AND {window}"
    )
    conditions = " AND ".join(c for c in (item.where, where) if c)
    filtered = f" WHERE {conditions}" if conditions else ""
    dims = [*item.dimensions, "bucket"]
    measures = ", ".join(f"{m.aggregate_expression()} AS {m.name}" for m in item.measures)
    if item.replacing_version:
        shaped = f"SELECT {', '.join(dims)}, {measures}, {item.replacing_version} FROM ({rows}){filtered}"
    else:
        shaped = f"SELECT {', '.join(dims)}, {measures} FROM ({rows}){filtered} GROUP BY {', '.join(dims)}"
    return f"(SELECT {columns} FROM ({shaped}))"


def source(
    item: Rollup,
    span: Range,
    scope: Scope,
    params: dict[str, Any],
    prefix: str = "c",
    columns: str = "*",
    where: str = "",
) -> str:
    """Rollup rows of ``item`` over ``span``: the rollup tables for day ranges, raw rows for the rest."""
    if span.is_hourly:
        return raw_source(item, span, scope, params, prefix, columns, where)
    return f"({select_rows(item, span, scope, params, columns, prefix=prefix, where=where)})"


def summary_days(span: Range) -> tuple[date, date]:
    """Usage summaries are per day: an hourly range reads the UTC days it touches."""
    return span.start.astimezone(UTC).date(), (span.end - timedelta(milliseconds=1)).astimezone(UTC).date()


def point_expression(span: Range, params: dict[str, Any], prefix: str = "c") -> str:
    """SQL mapping a stored ``bucket`` to its series point (clipped to the range start)."""
    if span.first_day is None:
        return "bucket"
    grain = series_grain(span.days)
    if grain is Grain.DAY:
        return "bucket"
    params[f"{prefix}_start"] = span.first_day
    function = "toMonday" if grain is Grain.WEEK else "toStartOfMonth"
    return f"greatest({function}(bucket), {{{prefix}_start:Date}})"


def as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def as_point(value: Any) -> date | datetime:
    """A series point from the driver: a ``date``, or an hour as an aware UTC ``datetime``."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return as_date(value)
