"""Several periods in one statement: the periods of a series (and the whole range beside them) bound as
array parameters, and SQL that gives each row the periods it counts in, so a reader groups by period
(``span``, 1-based) instead of running its statements once per point.

- :data:`COVER_SPANS`: over rollup rows, the periods whose coarsest cover (:func:`query_api.lms.grains.cover`)
  holds the row — the same rows the single-period :func:`query_api.lms.grains.period_condition` reads;
- :data:`DAY_SPANS`: over daily rows, the periods the row's day is in (active days);
- :data:`UP_TO_SPANS`: over daily rows, the periods ending on or after the row's day ("as of the end");
- ``starts[span]``/``ends[span]``: a period's UTC instants (``end`` exclusive), for current-state rows.

A row ``ARRAY JOIN``-ed with one of these counts once in each period it belongs to; periods may overlap
(the whole range and its points). :func:`spanned` filters the rows first: ClickHouse evaluates an
``ARRAY JOIN`` before the ``WHERE`` of the same ``SELECT``, so a filter placed after it would compute the
periods of every row of the table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from query_api.lms.grains import cover
from query_api.lms.models import LmsPeriod
from query_api.readers.common import ch_time

SPANS_WITH = (
    "WITH {firsts:Array(Date)} AS firsts, {lasts:Array(Date)} AS lasts, "
    "{starts:Array(DateTime64(3, 'UTC'))} AS starts, {ends:Array(DateTime64(3, 'UTC'))} AS ends, "
    "{seg_span:Array(UInt32)} AS seg_span, {seg_grain:Array(String)} AS seg_grain, "
    "{seg_first:Array(Date)} AS seg_first, {seg_last:Array(Date)} AS seg_last "
)
"""The ``WITH`` clause naming the bound arrays (put it first in the statement)."""

COVER_SPANS = (
    "arrayMap(j -> seg_span[j], arrayFilter(j -> toString(grain) = seg_grain[j] AND bucket >= seg_first[j] "
    "AND bucket <= seg_last[j], range(1, length(seg_span) + 1)))"
)
DAY_SPANS = "arrayFilter(i -> bucket >= firsts[i] AND bucket <= lasts[i], range(1, length(firsts) + 1))"
UP_TO_SPANS = "arrayFilter(i -> bucket <= lasts[i], range(1, length(lasts) + 1))"
IN_RANGE = "bucket >= {spans_first:Date} AND bucket <= {spans_last:Date}"
"""Rows a cover of any of the periods may hold (a prefilter on the tables' sort key)."""


def span_params(periods: Sequence[LmsPeriod]) -> dict[str, Any]:
    """``tenant`` and the arrays of :data:`SPANS_WITH` for ``periods`` (one tenant and zone)."""
    if not periods:
        raise ValueError("no period")
    tenants = {(p.tenant_id, p.zone.key) for p in periods}
    if len(tenants) != 1:
        raise ValueError(f"periods of one tenant and zone only, got {sorted(tenants)}")
    segments = [
        (index, segment)
        for index, period in enumerate(periods, start=1)
        for segment in cover(period.first, period.last)
    ]
    return {
        "tenant": periods[0].tenant_id,
        "firsts": [p.first for p in periods],
        "lasts": [p.last for p in periods],
        "starts": [ch_time(p.start) for p in periods],
        "ends": [ch_time(p.end) for p in periods],
        "seg_span": [index for index, _ in segments],
        "seg_grain": [segment.grain.value for _, segment in segments],
        "seg_first": [segment.first for _, segment in segments],
        "seg_last": [segment.last for _, segment in segments],
        "spans_first": min(p.first for p in periods),
        "spans_last": max(p.last for p in periods),
        "spans_start": ch_time(min(p.start for p in periods)),
        "spans_end": ch_time(max(p.end for p in periods)),
    }


def spanned(source: str, where: str, spans: str) -> str:
    """``FROM`` the rows of ``source`` (a table, perhaps ``… FINAL``) that ``where`` keeps, each repeated
    once per period of ``spans`` (as ``span``)."""
    return f"FROM (SELECT * FROM {source} WHERE {where}) ARRAY JOIN {spans} AS span"
