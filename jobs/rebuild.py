"""Rebuilding rollups from the raw tables (``analytics rebuild-rollups``): after a time-zone change, a bug
fix or a GDPR deletion.

For each grain, every bucket touching ``[start, end]`` (tenant-local days) is deleted and recomputed from
the raw rows with the very transforms the rollup agents use. The raw rows of the union of those buckets
are fed once into feed tables of this run, whose views (the rollups' own, generated from the
declarations) pass each grain's rows only inside that grain's interval, so no other bucket is touched. Running
it twice gives the same result. Events still arriving for the rebuilt buckets while it runs may be
counted twice or not at all: pause the rollup workers, or rebuild once more afterwards.

Every stream's raw table is read, the learning platform's too (ADR 0015): raw rows become their message
models again (:func:`schemas.lms_rows.lms_message`) and go through the same feed transforms, so enrollment
progress is rebuilt from ``lms_entity_upserts``. A feed bucketed by another time than the event's
(assessment attempts: ``started_at``) is fed from the rows whose time of that column is in the buckets,
whenever their snapshots were sent.

Raw rows whose time is outside the supported range (:mod:`schemas.event_time`: a ``timestamp`` or usage
``date`` in 1970, stored before the gateway checked the range) are skipped, logged with their ids and
counted in the report, as the pipeline now treats such events (the workers dead-letter them): the rebuilt
buckets leave them out, and the raw tables' TTL backstop deletes them at their next merge. Any other row
the message models refuse still fails the rebuild: it would be a bug to see, not data to leave out.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client
from pydantic import ValidationError
from tqdm import tqdm

from jobs.retention import wait_for_deletes
from plumbing.storage import DEDUP_SETTINGS
from schemas.event_time import RANGE_TEXT
from schemas.lms_rows import FEED_ROW_TYPES, FEED_TIME_COLUMN, lms_message
from schemas.messages import MESSAGE_MODELS
from schemas.rollups import FEEDS, ROLLUPS, Grain, Rollup, date_buckets, grain_condition, view_ddl
from schemas.rows import RAW_COLUMNS, RAW_TABLES, TableBatch, ZoneFor, feed_rows
from schemas.topics import LMS_STREAMS, Stream

log = logging.getLogger(__name__)

_JSON_COLUMNS = {
    "properties",
    "location",
    "memory_usage",
    "network_info",
    "device_info",
    "custom_metrics",
    "details",
    "metadata",
    "features_used",
    "retention_data",
    "conversion_data",
    "user_flow",
}


MAX_SKIPPED_IDS = 100
"""How many ids of skipped rows a report keeps (each skipped row is logged anyway)."""
_STORED_TIMES = frozenset({"timestamp", "received_at", "date"})
"""The fields of a message whose range the models check (``StoredTime``/``StoredDate``)."""


@dataclass
class RebuildReport:
    tenants: int = 0
    events: int = 0
    """Raw rows fed into the rebuilt buckets."""
    buckets_deleted: int = 0
    skipped: int = 0
    """Raw rows left out because a stored time is outside the supported range (see the module docstring)."""
    skipped_ids: list[str] = field(default_factory=list)
    """Ids of the first :data:`MAX_SKIPPED_IDS` skipped rows."""

    def skip(self, ids: list[str]) -> None:
        self.skipped += len(ids)
        self.skipped_ids.extend(ids[: MAX_SKIPPED_IDS - len(self.skipped_ids)])


def bucket_end(day: date, grain: Grain) -> date:
    if grain is Grain.DAY:
        return day
    if grain is Grain.WEEK:
        return day - timedelta(days=day.weekday()) + timedelta(days=6)
    first_next = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return first_next - timedelta(days=1)


_GRAIN_POSITION = {Grain.DAY: 0, Grain.WEEK: 1, Grain.MONTH: 2}  # in date_buckets()' result


def grain_intervals(start: date, end: date) -> dict[Grain, tuple[date, date]]:
    """Per grain, the first day of the first bucket and the last day of the last bucket touching the range."""
    firsts = date_buckets(start)
    return {grain: (firsts[_GRAIN_POSITION[grain]], bucket_end(end, grain)) for grain in Grain}


def _local_midnight_utc(day: date, zone: Any) -> datetime:
    return datetime.combine(day, time(0)).replace(tzinfo=zone).astimezone(UTC)


def _decoded(stream: Stream, columns: list[str], row: Iterable[Any]) -> Any:
    if stream in LMS_STREAMS:
        return lms_message(stream, columns, row)
    values = dict(zip(columns, row, strict=True))
    for name in _JSON_COLUMNS & values.keys():
        text = values[name]
        values[name] = orjson.loads(text) if text else None
    if stream is Stream.EVENTS:
        values["properties"] = values["properties"] or {}
        values["user_agent"] = values["user_agent"] or None
        values["ip_address"] = values["ip_address"] or None
    if stream is Stream.USAGE:
        values["features_used"] = values["features_used"] or []
    for name in ("timestamp", "received_at", "sent_at"):
        if isinstance(values.get(name), datetime) and values[name].tzinfo is None:
            values[name] = values[name].replace(tzinfo=UTC)
    return MESSAGE_MODELS[stream].model_validate(values)


def _out_of_range(error: ValidationError) -> bool:
    """Whether every error of ``error`` is about a stored time (which the models only range-check)."""
    return all(str(item["loc"][0]) in _STORED_TIMES for item in error.errors() if item["loc"])


def _readable(
    stream: Stream, columns: list[str], rows: Sequence[Sequence[Any]]
) -> tuple[list[Any], list[str]]:
    """The message models of ``rows``, and the ids of the rows skipped for a time outside the supported
    range; any other validation error is raised."""
    events, skipped = [], []
    for row in rows:
        try:
            events.append(_decoded(stream, columns, row))
        except ValidationError as exc:
            if not _out_of_range(exc):
                raise
            skipped.append(str(row[columns.index("id")]))
    return events, skipped


def _raw_span(
    client: Client,
    stream: Stream,
    tenant: str,
    first: date,
    last: date,
    zone: Any,
    column: str = "timestamp",
    types: Sequence[str] = (),
) -> tuple[list[Any], list[str]]:
    """The raw events of tenant-local days ``first..last`` as message models, fully read (chDB serves no
    other call on a client while a result stream is open, and inserts follow), and the ids of the rows
    skipped (a time outside the supported range; logged here). The days are those of ``column`` (usage:
    ``date``); ``types``: only rows of these ``type`` values."""
    columns = RAW_COLUMNS[stream]
    if stream is Stream.USAGE:
        condition = "date BETWEEN {a:Date} AND {b:Date}"
        params: dict[str, Any] = {"a": first, "b": last}
    else:
        condition = f"{column} >= {{a:DateTime64(3, 'UTC')}} AND {column} < {{b:DateTime64(3, 'UTC')}}"
        params = {
            "a": _local_midnight_utc(first, zone),
            "b": _local_midnight_utc(last + timedelta(days=1), zone),
        }
    if types:
        condition += " AND type IN {types:Array(String)}"
        params["types"] = list(types)
    table = RAW_TABLES[stream]
    sql = f"SELECT {', '.join(columns)} FROM {table} FINAL WHERE tenant_id = {{t:String}} AND {condition}"
    rows = client.query(sql, parameters={"t": tenant, **params}).result_rows
    events, skipped = _readable(stream, columns, rows)
    if skipped:
        log.warning(
            "rebuild: skipped %d %s row(s) of tenant %s (%s..%s) whose time is outside the supported range, "
            "%s: ids %s",
            len(skipped),
            table,
            tenant,
            first,
            last,
            RANGE_TEXT,
            ", ".join(skipped),
        )
    return events, skipped


_FEED_STREAM = {feed.table: feed.stream for feed in FEEDS}


def _span_feeds(
    client: Client,
    stream: Stream,
    tenant: str,
    first: date,
    last: date,
    zone_for: ZoneFor,
    report: RebuildReport,
) -> list[TableBatch]:
    """The feed rows of ``stream``'s raw rows of days ``first..last``: of the rows whose ``timestamp`` is
    in them, and for feeds bucketed by another time (:data:`~schemas.lms_rows.FEED_TIME_COLUMN`: an
    attempt's ``started_at``, whose later snapshots may be of another month) of the rows whose time of
    that column is in them."""
    zone = zone_for(tenant)
    events, skipped = _raw_span(client, stream, tenant, first, last, zone)
    report.events += len(events)
    report.skip(skipped)
    batches = [b for b in feed_rows(stream, events, zone_for) if b.table not in FEED_TIME_COLUMN]
    for table, column in FEED_TIME_COLUMN.items():
        if _FEED_STREAM[table] is stream:
            own, _ = _raw_span(client, stream, tenant, first, last, zone, column, FEED_ROW_TYPES[table])
            batches += [b for b in feed_rows(stream, own, zone_for) if b.table == table]
    return batches


def month_spans(first: date, last: date) -> list[tuple[date, date]]:
    """``first..last`` cut at month ends: the unit of reading, so memory stays bounded by a month."""
    spans = []
    cursor = first
    while cursor <= last:
        span_end = min(bucket_end(cursor, Grain.MONTH), last)
        spans.append((cursor, span_end))
        cursor = span_end + timedelta(days=1)
    return spans


def _delete(client: Client, table: str, condition: str, params: dict[str, Any]) -> None:
    """Queue a lightweight delete (rows hidden once its mutation is done, purged by merges): the caller
    waits for all of them at once, as each alone takes a second or more to be scheduled and applied."""
    client.command(
        f"DELETE FROM {table} WHERE {condition}", parameters=params, settings={"lightweight_deletes_sync": 0}
    )


def rebuild_rollups(
    client: Client,
    start: date,
    end: date,
    zone_for: ZoneFor,
    tenant: str | None = None,
    show_progress: bool = False,
) -> RebuildReport:
    if end < start:
        raise ValueError("--to is before --from")
    report = RebuildReport()
    tenants = [tenant] if tenant else _tenants(client)
    intervals = grain_intervals(start, end)
    first = min(a for a, _ in intervals.values())
    last = max(b for _, b in intervals.values())
    run = uuid.uuid4().hex
    progress: Callable[[Iterable[Any]], Iterable[Any]] = (
        (lambda items: tqdm(items, desc="rebuild", unit="tenant-month"))
        if show_progress
        else (lambda items: items)
    )
    report.buckets_deleted += _delete_buckets(client, tenant, intervals)
    feeds = _attach_rebuild_feeds(client, run, intervals)
    try:
        work = [(tenant_id, span) for tenant_id in tenants for span in month_spans(first, last)]
        for tenant_id, (span_first, span_last) in progress(work):
            for stream in Stream:
                for batch in _span_feeds(client, stream, tenant_id, span_first, span_last, zone_for, report):
                    if batch.row_count:
                        token = f"rebuild/{run}/{tenant_id}/{stream}/{span_first}/{batch.table}"
                        client.insert(
                            feeds[batch.table],
                            batch.data,
                            column_names=batch.columns,
                            column_oriented=True,
                            settings={**DEDUP_SETTINGS, "insert_deduplication_token": token},
                        )
    finally:
        _detach_rebuild_feeds(client, run)
    report.tenants = len(tenants)
    return report


def _rebuild_name(run: str, name: str) -> str:
    return f"rebuild_{run}_{name}"


def _attach_rebuild_feeds(
    client: Client, run: str, intervals: dict[Grain, tuple[date, date]]
) -> dict[str, str]:
    """Feed tables of this run with the rollups' own views, each limited to its grain's rebuild interval,
    so re-fed rows reach exactly the deleted buckets. Returns feed table → this run's copy."""
    copies = {}
    for feed in FEEDS:
        copies[feed.table] = _rebuild_name(run, feed.table)
        client.command(f"CREATE TABLE {copies[feed.table]} AS {feed.table} ENGINE = Null")
    for item in ROLLUPS:
        quoted = [
            (g, f"'{a.isoformat()}'", f"'{b.isoformat()}'") for g, (a, b) in _intervals_of(item, intervals)
        ]
        name = _rebuild_name(run, item.view)
        client.command(view_ddl(item, copies[item.feed.table], name, grain_condition(quoted)))
    return copies


def _intervals_of(
    item: Rollup, intervals: dict[Grain, tuple[date, date]]
) -> list[tuple[Grain, tuple[date, date]]]:
    """The rebuild intervals of the grains ``item`` stores (session pages: daily only)."""
    return [(grain, intervals[grain]) for grain in item.grains]


def _detach_rebuild_feeds(client: Client, run: str) -> None:
    for item in ROLLUPS:
        client.command(f"DROP VIEW IF EXISTS {_rebuild_name(run, item.view)}")
    for feed in FEEDS:
        client.command(f"DROP TABLE IF EXISTS {_rebuild_name(run, feed.table)}")


def _delete_buckets(client: Client, tenant: str | None, intervals: dict[Grain, tuple[date, date]]) -> int:
    """Delete the buckets to rebuild: of ``tenant``, or of every tenant (one mutation per table)."""
    deleted = 0
    for item in ROLLUPS:
        params: dict[str, Any] = {}
        spans = []
        for grain, (a, b) in _intervals_of(item, intervals):
            params[f"{grain.value}_a"], params[f"{grain.value}_b"] = a, b
            spans.append((grain, f"{{{grain.value}_a:Date}}", f"{{{grain.value}_b:Date}}"))
        condition = grain_condition(spans)
        if tenant is not None:
            condition += " AND tenant_id = {t:String}"
            params["t"] = tenant
        _delete(client, item.table, condition, params)
        deleted += len(spans)
    # the rows of a queued delete stay visible until its mutation is done: re-feed only after every one
    wait_for_deletes(client, [item.table for item in ROLLUPS])
    return deleted


def _tenants(client: Client) -> list[str]:
    names: set[str] = set()
    for table in RAW_TABLES.values():
        rows = client.query(f"SELECT DISTINCT tenant_id FROM {table}").result_rows
        names.update(str(row[0]) for row in rows)
    return sorted(names)
