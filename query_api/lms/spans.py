"""Several periods in one statement: the periods of a series (and the whole range beside them) bound as
array parameters, and SQL that gives each row the periods it counts in, so a reader groups by period
(``span``, 1-based) instead of running its statements once per point.

- :data:`COVER_SPANS`: over rollup rows, the periods whose coarsest cover (:func:`query_api.lms.grains.cover`)
  holds the row — the same rows the single-period :func:`query_api.lms.grains.period_condition` reads;
- ``starts[span]``/``ends[span]``: a period's UTC instants (``end`` exclusive), for current-state rows.

:class:`PeriodIndex` makes the same assignment with lookups into arrays built here instead of lambdas:
ClickHouse spends more analysing the lambdas than reading the rows (ADR 0022).

A row ``ARRAY JOIN``-ed with one of these counts once in each period it belongs to; periods may overlap
(the whole range and its points). :func:`spanned` filters the rows first: ClickHouse evaluates an
``ARRAY JOIN`` before the ``WHERE`` of the same ``SELECT``, so a filter placed after it would compute the
periods of every row of the table."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any

from query_api.lms.grains import cover, next_month
from query_api.lms.models import LmsPeriod
from query_api.periods import Segment
from query_api.readers.common import ch_time
from schemas.rollups import Grain

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
IN_RANGE = "bucket >= {spans_first:Date} AND bucket <= {spans_last:Date}"
"""Rows a cover of any of the periods may hold (a prefilter on the tables' sort key)."""


def _one_tenant(periods: Sequence[LmsPeriod]) -> None:
    if not periods:
        raise ValueError("no period")
    tenants = {(p.tenant_id, p.zone.key) for p in periods}
    if len(tenants) != 1:
        raise ValueError(f"periods of one tenant and zone only, got {sorted(tenants)}")


def span_params(periods: Sequence[LmsPeriod]) -> dict[str, Any]:
    """``tenant`` and the arrays of :data:`SPANS_WITH` for ``periods`` (one tenant and zone)."""
    _one_tenant(periods)
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


def _buckets(segment: Segment) -> Iterator[date]:
    """The bucket starts of ``segment`` (days, Mondays or first days of months)."""
    step = timedelta(days=7 if segment.grain == Grain.WEEK else 1)
    bucket = segment.first
    while bucket <= segment.last:
        yield bucket
        bucket = next_month(bucket) if segment.grain == Grain.MONTH else bucket + step


_GRAIN_NUMBER = {Grain.DAY.value: 1, Grain.WEEK.value: 2, Grain.MONTH.value: 3}
"""The rollup tables' ``grain`` Enum8 values."""


def day_number(day: date) -> int:
    """ClickHouse's ``toUInt32`` of a ``Date``: days since 1970-01-01."""
    return (day - date(1970, 1, 1)).days


class PeriodIndex:
    """Which of ``periods`` (one tenant and zone) a rollup row counts in, as lookups into bound arrays
    instead of lambdas: ClickHouse analyses ``arrayFilter``/``arrayMap`` over bound arrays slowly, for
    every part of a statement, and that analysis, not reading, was most of the small reads' time (ADR 0022).
    Periods are numbered from 1 in SQL (``facts[span - 1]``); a row of no period joins an empty array and
    drops out.

    - :data:`COVER_JOIN`: the periods whose cover holds the row (as :data:`COVER_SPANS`);
    - :meth:`cover_and_days_join`: the same, plus ``DAYS + n`` for each period ``n`` a daily row's day is
      in, so one scan serves figures over the cover and figures counted in days;
    - :data:`EVERY_SPAN` with :data:`BEFORE_END`: each row once per period, kept where an instant is
      before the period's end (for current-state rows: "by the end of the period");
    - :data:`UP_TO_JOIN`: over daily rows, the period *ends* (``lasts``, ascending, numbered from 1) on or
      after the row's day, for figures "as of the end" (per distinct last day).
    """

    _KEY = "indexOf({cover_keys:Array(Int64)}, toInt64(bucket) * 4 + toInt64(CAST(grain, 'Int8')))"
    COVER_ROWS = (
        "bucket >= {spans_first:Date} AND bucket <= {spans_last:Date} AND (grain = 'daily' "
        "OR (grain = 'weekly' AND bucket IN {weeks:Array(Date)}) "
        "OR (grain = 'monthly' AND bucket IN {months:Array(Date)}))"
    )
    """The rollup rows any cover may hold (with the daily rows of the whole range): filter with it first."""
    COVER_JOIN = f"{{cover_spans:Array(Array(UInt32))}}[{_KEY}]"
    EVERY_SPAN = "range(1, {span_count:UInt32} + 1)"
    BEFORE_END = "< {ends:Array(DateTime64(3, 'UTC'))}[span]"
    DAYS = 1_000_000
    """Added to a period's number for the days it holds (:meth:`cover_and_days_join`)."""

    @classmethod
    def cover_and_days_join(cls, day_rows: str) -> str:
        """:data:`COVER_JOIN`, plus ``DAYS + n`` for the periods ``n`` of the day of the daily rows for which
        the SQL ``day_rows`` is true."""
        return (
            f"if(grain = 'daily' AND {day_rows}, {{cover_day_spans:Array(Array(UInt32))}}[{cls._KEY}], "
            f"{cls.COVER_JOIN})"
        )

    UP_TO_JOIN = (
        "range(if(toInt64(bucket) <= {lasts_first:Int64}, 1, "
        "{first_last_after:Array(UInt32)}[toInt64(bucket) - {lasts_first:Int64}]), {lasts_count:UInt32} + 1)"
    )
    """Day numbers are bound as integers: a requested day before 1970 is a valid period (of no rows), while
    a ``Date`` cannot hold it."""

    def __init__(self, periods: Sequence[LmsPeriod]) -> None:
        _one_tenant(periods)
        self.periods = list(periods)
        self.lasts = sorted({period.last for period in self.periods})
        self._ending = [[n for n, p in enumerate(self.periods) if p.last == end] for end in self.lasts]
        self._cover: dict[tuple[str, date], list[int]] = {}
        for position, period in enumerate(self.periods, start=1):
            for segment in cover(period.first, period.last):
                for bucket in _buckets(segment):
                    self._cover.setdefault((segment.grain.value, bucket), []).append(position)

    def params(self) -> dict[str, Any]:
        """``tenant``; ``spans_first``/``spans_last`` (local days) and ``spans_end`` (UTC, exclusive) around
        every period; ``weeks``/``months``: the weekly and monthly buckets any cover reads; the arrays of
        the joins."""
        first = min(p.first for p in self.periods)
        last = max(p.last for p in self.periods)
        days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
        after_first_last = [day for day in days if day > self.lasts[0]]
        keys = sorted({*self._cover, *((Grain.DAY.value, day) for day in days)})
        in_days = {
            day: [self.DAYS + n for n, p in enumerate(self.periods, start=1) if p.first <= day <= p.last]
            for day in days
        }
        return {
            "tenant": self.periods[0].tenant_id,
            "spans_first": first,
            "spans_last": last,
            "spans_end": ch_time(max(p.end for p in self.periods)),
            "span_count": len(self.periods),
            "ends": [ch_time(p.end) for p in self.periods],
            "weeks": [bucket for grain, bucket in keys if grain == Grain.WEEK.value],
            "months": [bucket for grain, bucket in keys if grain == Grain.MONTH.value],
            "cover_keys": [day_number(bucket) * 4 + _GRAIN_NUMBER[grain] for grain, bucket in keys],
            "cover_spans": [self._cover.get(key, []) for key in keys],
            "cover_day_spans": [
                self._cover.get(key, []) + (in_days[key[1]] if key[0] == Grain.DAY.value else [])
                for key in keys
            ],
            "lasts_first": day_number(self.lasts[0]),
            "lasts_count": len(self.lasts),
            "first_last_after": [
                next(n for n, end in enumerate(self.lasts, start=1) if end >= day) for day in after_first_last
            ],
        }

    def ending_at(self, number: int) -> list[int]:
        """The positions (from 0) of the periods whose last day is ``lasts[number - 1]`` (none for a number
        out of range: a lookup past an array's end reads 0)."""
        return self._ending[number - 1] if 1 <= number <= len(self._ending) else []
