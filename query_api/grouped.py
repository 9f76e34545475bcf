"""One statement per rollup for everything a response needs from it (``GROUPING SETS``).

A dashboard needs, from one rollup, the period's totals, the previous period's totals, a series and a
breakdown or two. Each statement has a fixed cost in ClickHouse (more in chDB) before it reads a row, so
these are computed together: the current and previous ranges are read in one pass over the table (one
condition per planned segment), each row tagged ``is_current`` by its bucket, and each requested grouping
is a grouping set. The statement selects from the table itself, not from a subquery (chDB analyses each
nested ``SELECT`` before it runs).

When every expression adds up (``sum``, ``sumIf``, ``count``, ``countIf``) the grouping sets are not
needed: one flat ``GROUP BY`` over every dimension returns the finest rows and the sets are summed from
them here. In chDB that is the cheaper statement (``GROUPING SETS`` costs more than the rows it saves for
one user's rollup rows); results are identical. ADR 0005 has the measurements.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from query_api.periods import Range
from query_api.rollup_sql import Scope, point_expression, select_rows, source
from query_api.store import QueryStore
from schemas.rollups import Rollup

POINT = "point"
"""The pseudo-dimension of a series: the stored bucket mapped to its series point."""
_ADDITIVE = re.compile(r"^(?:sum|sumIf|count|countIf)\(")


def additive(expressions: Sequence[str]) -> bool:
    """Whether every expression is a sum or a count, so totals over groups are sums of the groups'."""
    return all(_ADDITIVE.match(expression) for expression in expressions)


@dataclass
class Grouped:
    """Rows of one grouped statement: ``totals[True]`` / ``totals[False]`` are the current and previous
    period's values; ``sets[name]`` the current period's rows of each named grouping set."""

    totals: dict[bool, Sequence[Any]] = field(default_factory=dict)
    sets: dict[str, list[tuple[tuple[Any, ...], Sequence[Any]]]] = field(default_factory=dict)

    def total(self, current: bool, index: int) -> Any:
        values = self.totals.get(current)
        return None if values is None else values[index]


async def grouped(
    store: QueryStore,
    item: Rollup,
    scope: Scope,
    span: Range,
    previous: Range | None,
    columns: Sequence[str],
    expressions: Sequence[str],
    sets: dict[str, tuple[str, ...]] | None = None,
    where: str = "",
) -> Grouped:
    """Run ``expressions`` over ``item``'s rows for the totals (both periods) and for each grouping set
    (current period). ``columns`` are the rollup columns the expressions and sets use."""
    sets = sets or {}
    dims = list(dict.fromkeys(d for keys in sets.values() for d in keys))
    params: dict[str, Any] = {}
    dim_select = [
        f"{point_expression(span, params, prefix='c')} AS {POINT}" if d == POINT else d for d in dims
    ]
    flat = additive(expressions)
    flags = [] if flat else [f"grouping({d})" for d in dims]
    outputs = [*dim_select, *flags, *expressions]
    if flat:
        group_by = f"GROUP BY {', '.join(['is_current', *dims])}"
    else:
        grouping_sets = ["(is_current)", *(f"(is_current, {', '.join(keys)})" for keys in sets.values())]
        group_by = f"GROUP BY GROUPING SETS ({', '.join(grouping_sets)})"
    if previous is None or not span.is_hourly:
        # both periods in one pass over the table: a stored bucket of the current period starts on or
        # after its first day, every bucket of the previous period before it
        if previous is None:
            is_current = "1"
        else:
            params["c_first_day"] = span.first_day
            is_current = "bucket >= {c_first_day:Date}"
        select = ", ".join([f"{is_current} AS is_current", *outputs])
        sql = select_rows(
            item, span, scope, params, select, prefix="b", where=where, before=previous, tail=group_by
        )
    else:  # hourly ranges are raw rows shaped in a subquery each
        stored = list(dict.fromkeys(["bucket", *columns, *(d for d in dims if d != POINT)]))
        selected = ", ".join(stored)
        current = source(item, span, scope, params, "c", f"{selected}, 1 AS is_current", where)
        before = source(item, previous, scope, params, "p", f"{selected}, 0 AS is_current", where)
        sql = (
            f"SELECT {', '.join(['is_current', *outputs])} "
            f"FROM (SELECT * FROM {current} UNION ALL SELECT * FROM {before}) {group_by}"
        )
    if flat:
        return _summed(await store.rows(sql, params), dims, sets)
    rows = await store.rows(sql, params)
    result = Grouped(sets={name: [] for name in sets})
    by_dims = {frozenset(keys): name for name, keys in sets.items()}
    width = len(dims)
    for row in rows:
        present = frozenset(
            d for d, flag in zip(dims, row[1 + width : 1 + 2 * width], strict=True) if not flag
        )
        values = row[1 + 2 * width :]
        if not present:
            result.totals[bool(row[0])] = values
        elif row[0]:
            name = by_dims[present]
            keys = tuple(row[1 + dims.index(d)] for d in sets[name])
            result.sets[name].append((keys, values))
    return result


def _summed(rows: Sequence[Sequence[Any]], dims: list[str], sets: dict[str, tuple[str, ...]]) -> Grouped:
    """The totals and grouping sets of additive expressions, summed from rows grouped by every dimension
    (``is_current`` first, then ``dims``, then the values)."""
    totals: dict[bool, list[Any]] = {}
    sums: dict[str, dict[tuple[Any, ...], list[Any]]] = {name: {} for name in sets}
    positions = {name: [1 + dims.index(d) for d in keys] for name, keys in sets.items()}
    first_value = 1 + len(dims)
    for row in rows:
        values = row[first_value:]
        current = bool(row[0])
        _add(totals.setdefault(current, [0] * len(values)), values)
        if current:
            for name, where in positions.items():
                key = tuple(row[i] for i in where)
                _add(sums[name].setdefault(key, [0] * len(values)), values)
    return Grouped(totals=dict(totals), sets={name: list(found.items()) for name, found in sums.items()})


def _add(into: list[Any], values: Sequence[Any]) -> None:
    for index, value in enumerate(values):
        into[index] += value
