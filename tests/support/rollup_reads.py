"""Reading rollups back in tests: each key's measures merged (:func:`select_sql`), rows as tuples, floats
rounded where rows merged in another order must compare equal, and the events rollup checked against the
independent oracle (:mod:`tests.support.rollup_oracle`).

The query API reads rollups with its own statements (``query_api.rollup_sql``); these are the tests' own,
so a reader's bug cannot hide behind the same SQL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.rollups import Grain, Rollup, rollup
from schemas.rows import RAW_TABLES
from schemas.topics import Stream
from tests.support import rollup_oracle as oracle

SIGNIFICANT_DIGITS = 9
"""How many significant digits of a float :func:`rounded` keeps.

Merging aggregate states adds floats up in the order their parts come (``sum``, ``avg``, t-digest
centroids), so equal rows stored differently (another tenant, another table layout, rows deleted in
between) may merge to results that differ in their last bits, relative to the value's magnitude. Nine
significant digits sit far above that noise and far below any real difference (a row more or less), at
every magnitude; a fixed number of decimals would keep few digits of a small value (a layout shift) and
many of a large one (a sum of load times)."""


def select_sql(item: Rollup, grain: Grain, group_by: Sequence[str], where: str = "") -> str:
    """``SELECT <group_by>, <each measure merged> FROM <table> WHERE grain = ... GROUP BY <group_by>``.

    Measures keep their names. ``replacing`` rollups are read ``FINAL`` so only the newest row per key
    counts. ``where`` is an SQL condition over the table's columns (use bound parameters).
    """
    merged = [f"{m.merge_expression()} AS {m.name}" for m in item.measures]
    final = " FINAL" if item.replacing_version else ""
    condition = f" AND {where}" if where else ""
    keys = ", ".join(group_by)
    return (
        f"SELECT {keys}, {', '.join(merged)} FROM {item.table}{final} WHERE grain = '{grain.value}'"
        f"{condition} GROUP BY {keys}"
    )


def rows(client: Client, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in client.query(sql).result_rows]


def rounded(value: Any) -> Any:
    """``value`` with every float rounded to :data:`SIGNIFICANT_DIGITS` (inside lists and tuples too,
    both returned as lists); infinities and NaN as they are."""
    if isinstance(value, float):
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}") if math.isfinite(value) else value
    if isinstance(value, list | tuple):
        return [rounded(v) for v in value]
    return value


def rounded_rows(client: Client, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """The rows of ``sql``, each value :func:`rounded`: comparable with rows merged in another order."""
    result = client.query(sql, parameters=parameters).result_rows
    return [tuple(rounded(v) for v in row) for row in result]


def assert_events_match(client: Client, events: list[dict[str, Any]]) -> None:
    """Raw rows (one per id) and the user_events rollup at every grain equal the oracle over ``events``."""
    ((count, distinct),) = rows(client, f"SELECT count(), uniqExact(id) FROM {RAW_TABLES[Stream.EVENTS]}")
    assert (count, distinct) == (len(events), len(events))
    columns = ["tenant_id", "user_id", "bucket", "event_type", "event_category", "event_name"]
    for grain in Grain:
        counts, _ = oracle.expected_user_events(events, grain.value)
        got = rows(client, select_sql(rollup("user_events"), grain, columns))
        assert {r[:6]: r[6] for r in got} == counts, grain
