"""The rollup model: feeds, measures, rollups and their DDL (ADR 0008). The declarations are in
:mod:`schemas.rollups` (product analytics) and :mod:`schemas.lms_rollups` (the learning platform).

A *feed* is a ``Null``-engine table the rollup agents insert per-event rows into, each row carrying its
calendar buckets (``day``, ``week`` = ISO week's Monday, ``month``) computed in the tenant's time zone —
ClickHouse time-zone functions need a constant zone, so bucketing happens in Python. Each rollup is one
table holding all its grains (a ``grain`` column beside ``bucket``), filled by one materialized view that
``ARRAY JOIN``s each feed row into its (grain, bucket) pairs (ADR 0008: a commit's cost in chDB is mostly
per view and part, not per row). Unique counts and quantiles are ClickHouse aggregate states
(``uniqExactState``, ``quantilesTDigestState``), never Python sets.

Inserts into a feed carry an ``insert_deduplication_token`` and
``deduplicate_blocks_in_dependent_materialized_views=1``, so a re-inserted batch changes no rollup (ADR 0004).

``replacing`` rollups keep the newest row per key (``ReplacingMergeTree(received_at)``), for sources that
are themselves summaries re-sent with corrections (daily usage); they are read with ``FINAL``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from schemas.topics import Stream


class Grain(StrEnum):
    DAY = "daily"
    WEEK = "weekly"
    MONTH = "monthly"

    @property
    def feed_column(self) -> str:
        return {Grain.DAY: "day", Grain.WEEK: "week", Grain.MONTH: "month"}[self]


ALL_GRAINS = (Grain.DAY, Grain.WEEK, Grain.MONTH)

GRAIN_TYPE = "Enum8('daily' = 1, 'weekly' = 2, 'monthly' = 3)"
"""The rollup tables' ``grain`` column: compared with the grains' names (``grain = 'weekly'``)."""


def buckets(moment: datetime, zone: ZoneInfo) -> tuple[date, date, date]:
    """(day, week, month) bucket starts of ``moment`` in ``zone``."""
    return date_buckets(moment.astimezone(zone).date())


@lru_cache(maxsize=8192)
def date_buckets(day: date) -> tuple[date, date, date]:
    """(day, week, month) bucket starts of a calendar ``day`` (already in the tenant's zone).

    Memoised: every feed row of every event asks, and a batch's events fall on a few days (the date
    arithmetic costs twenty times the lookup)."""
    return day, day - timedelta(days=day.weekday()), day.replace(day=1)


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class Feed:
    """A ``Null`` table of per-event rows for one source stream."""

    table: str
    stream: Stream
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


QUANTILES = (0.5, 0.75, 0.95)
_Q = ", ".join(str(q) for q in QUANTILES)


@dataclass(frozen=True)
class Measure:
    """One aggregated column: ``count``, ``sum``, ``uniq_exact``, ``avg``, ``quantiles``, ``value``,
    ``count_by`` (rows per value of ``source``, a map summed key by key: a breakdown kept inside the row
    instead of a row per value), ``value_map`` (a feed's map column as it is, in a replacing rollup; maps of
    several rows add up key by key when read), ``sum_map`` (a feed's map column summed key by key as rows
    merge, in an aggregating rollup) or ``latest`` (the value of ``source`` with the greatest ``by``: a level
    such as storage used, not a flow). ``condition`` (``count`` and ``count_by``) counts only matching rows.
    ``uniq_exact`` over a ``Nullable`` column skips NULLs (a feed row without the value)."""

    name: str
    function: str
    source: str | None = None
    condition: str | None = None
    by: str | None = None
    """``latest`` only: the feed column ordering the values (newest wins)."""
    additive: bool = True
    """``value`` only: ``False`` for a value that does not add up across rows (a state's name), which a
    reader takes from the one row of its key (``any``) instead of summing."""

    def __post_init__(self) -> None:
        if self.condition and self.function not in ("count", "count_by"):
            raise ValueError(f"{self.name}: a condition applies to count and count_by only")
        if (self.function == "latest") != (self.by is not None):
            raise ValueError(f"{self.name}: 'by' is required by latest and taken by nothing else")
        if not self.additive and self.function != "value":
            raise ValueError(f"{self.name}: only a value may be declared non-additive")

    def state_type(self, feed: Feed) -> str:
        source_type = feed.column(self.source).type if self.source else "UInt64"
        return {
            "count": "SimpleAggregateFunction(sum, UInt64)",
            "sum": "SimpleAggregateFunction(sum, UInt64)",
            "uniq_exact": f"AggregateFunction(uniqExact, {source_type})",
            "avg": "AggregateFunction(avg, Float64)",
            "quantiles": f"AggregateFunction(quantilesTDigest({_Q}), Float64)",
            "value": source_type,
            "count_by": "SimpleAggregateFunction(sumMap, Map(String, UInt64))",
            "value_map": source_type,
            "sum_map": f"SimpleAggregateFunction(sumMap, {source_type})",
            "latest": f"AggregateFunction(argMax, {source_type}, {feed.column(self.by or '').type})"
            if self.by
            else "",
        }[self.function]

    def aggregate_expression(self) -> str:
        """How the materialized view builds the state from feed rows."""
        when = f", {self.condition}" if self.condition else ""
        suffix = "If" if self.condition else ""
        return {
            "count": f"count{suffix}({self.condition or ''})",
            "sum": f"toUInt64(sum({self.source}))",
            "uniq_exact": f"uniqExactState({self.source})",
            "avg": f"avgState(toFloat64({self.source}))",
            "quantiles": f"quantilesTDigestState({_Q})(toFloat64({self.source}))",
            "value": f"{self.source}",
            "count_by": f"sumMap{suffix}(map(toString({self.source}), toUInt64(1)){when})",
            "value_map": f"{self.source}",
            "sum_map": f"sumMap({self.source})",
            "latest": f"argMaxState({self.source}, {self.by})",
        }[self.function]

    def merge_expression(self, column: str | None = None) -> str:
        """How a reader combines stored rows into the measure's value."""
        ref = column or self.name
        return {
            "count": f"sum({ref})",
            "sum": f"sum({ref})",
            "uniq_exact": f"uniqExactMerge({ref})",
            "avg": f"avgMerge({ref})",
            "quantiles": f"quantilesTDigestMerge({_Q})({ref})",
            "value": f"sum({ref})" if self.additive else f"any({ref})",
            "count_by": f"sumMap({ref})",
            "value_map": f"sumMap({ref})",
            "sum_map": f"sumMap({ref})",
            "latest": f"argMaxMerge({ref})",
        }[self.function]


@dataclass(frozen=True)
class Rollup:
    name: str
    feed: Feed
    dimensions: tuple[str, ...]
    measures: tuple[Measure, ...]
    grains: tuple[Grain, ...] = ALL_GRAINS
    where: str | None = None
    replacing_version: str | None = None
    """Set for ``replacing`` rollups: the feed column whose newest value wins."""
    description: str = ""
    personal: bool = True
    """Whether rows hold people's contributions. ``False`` (platform telemetry): GDPR erasure neither deletes
    nor recomputes the rollup, whatever its dimensions."""

    @property
    def table(self) -> str:
        """The one table of every grain's rows."""
        return f"rollup_{self.name}"

    @property
    def view(self) -> str:
        return f"mv_{self.table}"

    @property
    def key_columns(self) -> list[str]:
        """Sorting key: tenant, then user (per-user dashboards), grain, bucket, the other dimensions."""
        rest = [d for d in self.dimensions if d not in ("tenant_id", "user_id")]
        lead = ["tenant_id", "user_id"] if "user_id" in self.dimensions else ["tenant_id"]
        return [*lead, "grain", "bucket", *rest]

    def columns(self) -> list[Column]:
        dims = [self.feed.column(d) for d in self.dimensions]
        stored = [Column(m.name, m.state_type(self.feed)) for m in self.measures]
        version = [self.feed.column(self.replacing_version)] if self.replacing_version else []
        buckets = [Column("grain", GRAIN_TYPE), Column("bucket", "Date")]
        return [*dims[:1], *buckets, *dims[1:], *stored, *version]


def _cols(spec: str) -> tuple[Column, ...]:
    columns = []
    for line in spec.strip().splitlines():
        if not line.strip():
            continue
        name, kind = line.split(maxsplit=1)
        columns.append(Column(name, kind.strip()))
    return tuple(columns)


_BUCKETS = """
tenant_id LowCardinality(String)
user_id String
day Date
week Date
month Date
"""


# ---- DDL ---------------------------------------------------------------------------------------------


def feed_ddl(feed: Feed) -> str:
    columns = ",\n".join(f"    {c.name} {c.type}" for c in feed.columns)
    return f"CREATE TABLE IF NOT EXISTS {feed.table}\n(\n{columns}\n)\nENGINE = Null"


def table_ddl(item: Rollup) -> str:
    columns = ",\n".join(f"    {c.name} {c.type}" for c in item.columns())
    if item.replacing_version:
        engine = f"ReplacingMergeTree({item.replacing_version})"
    else:
        engine = "AggregatingMergeTree"
    return (
        f"CREATE TABLE IF NOT EXISTS {item.table}\n(\n{columns}\n)\nENGINE = {engine}\n"
        f"PARTITION BY toYYYYMM(bucket)\nORDER BY ({', '.join(item.key_columns)})\n"
        "SETTINGS non_replicated_deduplication_window = 10000"
    )


def grain_condition(segments: Iterable[tuple[Grain, str, str]]) -> str:
    """Parenthesised SQL true for rows in one of the ``(grain, first, last)`` segments (``first``/``last``
    are SQL expressions: bound parameters or quoted dates); a grain may appear in several segments, one
    absent from all is excluded."""
    ranges = [f"(grain = '{g.value}' AND bucket BETWEEN {first} AND {last})" for g, first, last in segments]
    return f"({' OR '.join(ranges)})"


def view_ddl(
    item: Rollup, source: str | None = None, name: str | None = None, condition: str | None = None
) -> str:
    """The view aggregating ``item``'s feed into its table, one row set per grain. ``source``, ``name`` and
    an extra ``condition`` (over the feed's columns and ``grain``/``bucket``) let a rebuild attach the same
    view to a feed table of its own."""
    dims = list(item.dimensions)
    if len(item.grains) == 1:
        grain = item.grains[0]
        expand = ""
        select = [dims[0], f"'{grain.value}' AS grain", f"{grain.feed_column} AS bucket", *dims[1:]]
    else:
        names = ", ".join(f"'{g.value}'" for g in item.grains)
        columns = ", ".join(g.feed_column for g in item.grains)
        expand = f" ARRAY JOIN [{names}] AS grain, [{columns}] AS bucket"
        select = [dims[0], "grain", "bucket", *dims[1:]]
    conditions = [c for c in (item.where, condition) if c]
    where = f"\nWHERE {' AND '.join(conditions)}" if conditions else ""
    head = f"CREATE MATERIALIZED VIEW IF NOT EXISTS {name or item.view} TO {item.table} AS\n"
    source = source or item.feed.table
    if item.replacing_version:
        select += [f"{m.aggregate_expression()} AS {m.name}" for m in item.measures] + [
            item.replacing_version
        ]
        return f"{head}SELECT {', '.join(select)}\nFROM {source}{expand}{where}"
    select += [f"{m.aggregate_expression()} AS {m.name}" for m in item.measures]
    group = [dims[0], "grain", "bucket", *dims[1:]]
    return f"{head}SELECT {', '.join(select)}\nFROM {source}{expand}{where}\nGROUP BY {', '.join(group)}"
