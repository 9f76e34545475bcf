"""Rollups, declared once: the stream processors write them and the query API reads them from here.

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

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
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
    local = moment.astimezone(zone).date()
    return local, local - timedelta(days=local.weekday()), local.replace(day=1)


def date_buckets(day: date) -> tuple[date, date, date]:
    """(day, week, month) bucket starts of a calendar ``day`` (already in the tenant's zone)."""
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
    instead of a row per value) or ``value_map`` (a feed's map column as it is; maps of several rows add up
    key by key). ``condition`` (``count`` and ``count_by``) counts only matching rows."""

    name: str
    function: str
    source: str | None = None
    condition: str | None = None

    def __post_init__(self) -> None:
        if self.condition and self.function not in ("count", "count_by"):
            raise ValueError(f"{self.name}: a condition applies to count and count_by only")

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
            "value": f"sum({ref})",
            "count_by": f"sumMap({ref})",
            "value_map": f"sumMap({ref})",
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

EVENTS_FEED = Feed(
    "feed_events",
    Stream.EVENTS,
    _cols(
        _BUCKETS
        + """
event_type LowCardinality(String)
event_category LowCardinality(String)
event_name LowCardinality(String)
session_id String
page String
is_page_view UInt8
"""
    ),
)

PERFORMANCE_METRICS = (
    "page_load_time",
    "time_to_first_byte",
    "first_contentful_paint",
    "largest_contentful_paint",
    "first_input_delay",
    "total_blocking_time",
    "cumulative_layout_shift",
)

PERFORMANCE_FEED = Feed(
    "feed_performance",
    Stream.PERFORMANCE,
    _cols(_BUCKETS + "page String\n" + "\n".join(f"{m} Float64" for m in PERFORMANCE_METRICS)),
)

USAGE_FEED = Feed(
    "feed_usage",
    Stream.USAGE,
    _cols(
        _BUCKETS
        + """
date Date
received_at DateTime64(3, 'UTC')
session_count UInt32
total_session_duration UInt32
page_views UInt32
unique_pages_visited UInt32
engagement_score Float64
feature_uses Map(String, UInt64)
features_recorded UInt8
"""
    ),
)
"""A day's summary with its features' usage counts by name (summed over categories), so the newest
summary of a day replaces its features with it; ``features_recorded`` is 1 on every row written since
``feature_uses`` existed (migration 0017), 0 on rows stored before."""

USAGE_FEATURES_FEED = Feed(
    "feed_usage_features",
    Stream.USAGE,
    _cols(
        _BUCKETS
        + """
date Date
received_at DateTime64(3, 'UTC')
feature_name String
category LowCardinality(String)
usage_count UInt32
total_time_spent UInt32
"""
    ),
)

ACTIVITIES_FEED = Feed(
    "feed_activities",
    Stream.ACTIVITIES,
    _cols(
        _BUCKETS
        + """
activity_type LowCardinality(String)
activity_category LowCardinality(String)
severity LowCardinality(String)
"""
    ),
)

FEEDS = (EVENTS_FEED, PERFORMANCE_FEED, USAGE_FEED, USAGE_FEATURES_FEED, ACTIVITIES_FEED)


ROLLUPS: tuple[Rollup, ...] = (
    Rollup(
        "user_events",
        EVENTS_FEED,
        ("tenant_id", "user_id", "event_type", "event_category", "event_name"),
        (Measure("events", "count"), Measure("sessions", "uniq_exact", "session_id")),
        description="events per user by type, category and name; unique sessions",
    ),
    Rollup(
        "page_views",
        EVENTS_FEED,
        ("tenant_id", "user_id", "page"),
        (Measure("views", "count"), Measure("sessions", "uniq_exact", "session_id")),
        where="is_page_view = 1",
        description="page views per user and page; unique viewing sessions (viewers = distinct users)",
    ),
    Rollup(
        "session_pages",
        EVENTS_FEED,
        ("tenant_id", "user_id", "session_id"),
        (
            Measure("events", "count"),
            Measure("page_views", "sum", "is_page_view"),
            Measure("errors", "count", condition="event_type = 'error_event'"),
            Measure("views_by_page", "count_by", "page", condition="is_page_view = 1"),
            Measure("events_by_name", "count_by", "event_name"),
        ),
        grains=(Grain.DAY,),
        description="per-session event, page-view and error counts per day, with page views by page and "
        "events by name (bounce rate: sessions with at most one view; the dashboard's event, page and "
        "session figures in one read, ADR 0011); daily only: a session rarely spans days, so weekly and "
        "monthly rows would repeat them",
    ),
    Rollup(
        "user_performance",
        PERFORMANCE_FEED,
        ("tenant_id", "user_id", "page"),
        (
            Measure("samples", "count"),
            *(Measure(f"avg_{m}", "avg", m) for m in PERFORMANCE_METRICS),
            *(Measure(f"q_{m}", "quantiles", m) for m in PERFORMANCE_METRICS),
        ),
        description="performance per user and page: count, mean and p50/p75/p95 of every web vital",
    ),
    Rollup(
        "user_usage",
        USAGE_FEED,
        ("tenant_id", "user_id", "date"),
        (
            *(
                Measure(m, "value", m)
                for m in (
                    "session_count",
                    "total_session_duration",
                    "page_views",
                    "unique_pages_visited",
                    "engagement_score",
                )
            ),
            Measure("feature_uses", "value_map", "feature_uses"),
            Measure("features_recorded", "value", "features_recorded"),
        ),
        replacing_version="received_at",
        description="daily usage summaries per user (latest per day wins, with its features' usage counts: "
        "the dashboard's usage in one read, ADR 0011), bucketed by week and month",
    ),
    Rollup(
        "feature_usage",
        USAGE_FEATURES_FEED,
        ("tenant_id", "user_id", "date", "feature_name", "category"),
        (
            Measure("usage_count", "value", "usage_count"),
            Measure("total_time_spent", "value", "total_time_spent"),
        ),
        replacing_version="received_at",
        description="per-feature usage counts and time per user and day (latest per day wins)",
    ),
    Rollup(
        "user_activities",
        ACTIVITIES_FEED,
        ("tenant_id", "user_id", "activity_type", "activity_category", "severity"),
        (Measure("activities", "count"),),
        description="activities per user by type, category and severity",
    ),
)


def rollup(name: str) -> Rollup:
    return next(r for r in ROLLUPS if r.name == name)


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


def all_ddl() -> Iterator[str]:
    """Every statement creating the feeds, rollup tables and views, in dependency order."""
    for feed in FEEDS:
        yield feed_ddl(feed)
    yield from rollup_ddl()


def rollup_ddl() -> Iterator[str]:
    """The rollup tables and their views (the feeds exist since migration 0006)."""
    for item in ROLLUPS:
        yield table_ddl(item)
        yield view_ddl(item)


if __name__ == "__main__":  # python -m schemas.rollups: the current DDL, to start a new migration from
    for statement in all_ddl():
        print(statement + ";\n")
