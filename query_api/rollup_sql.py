"""SQL sources over rollup tables for a range, from the plan of :func:`query_api.periods.plan`.

A source is a ``UNION ALL`` of one ``SELECT`` per planned segment, each filtered by tenant (always), user
(when the scope has one) and bucket range, so readers aggregate it like one table. Values are bound as
server-side parameters; only table names (from the declarations) are interpolated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from query_api.periods import Range, plan, series_grain
from schemas.rollups import Grain, Rollup


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


def rollup_source(
    item: Rollup,
    span: Range,
    scope: Scope,
    params: dict[str, Any],
    prefix: str = "c",
    columns: str = "*",
    where: str = "",
) -> str:
    """A parenthesised ``UNION ALL`` of ``item``'s rows for ``span``; adds its bound values to ``params``."""
    assert span.first_day is not None and span.last_day is not None, "day ranges only"
    params.update(scope_params(scope))
    final = " FINAL" if item.replacing_version else ""
    extra = f" AND {where}" if where else ""
    parts = []
    for index, segment in enumerate(plan(span.first_day, span.last_day)):
        first, last = f"{prefix}{index}_first", f"{prefix}{index}_last"
        params[first], params[last] = segment.first, segment.last
        parts.append(
            f"SELECT {columns} FROM {item.table(segment.grain)}{final} WHERE {scope_filter(scope)}"
            f" AND bucket BETWEEN {{{first}:Date}} AND {{{last}:Date}}{extra}"
        )
    return "(" + " UNION ALL ".join(parts) + ")"


def point_expression(span: Range, params: dict[str, Any], prefix: str = "c") -> str:
    """SQL mapping a stored ``bucket`` to its series point (clipped to the range start)."""
    assert span.first_day is not None
    grain = series_grain(span.days)
    if grain is Grain.DAY:
        return "bucket"
    params[f"{prefix}_start"] = span.first_day
    function = "toMonday" if grain is Grain.WEEK else "toStartOfMonth"
    return f"greatest({function}(bucket), {{{prefix}_start:Date}})"


def as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
