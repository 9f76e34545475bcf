"""The pure parts of GDPR export and deletion: the streamed encodings, the suppression rule the workers
apply, and the facts the deletion relies on (every rollup keyed by user)."""

from __future__ import annotations

import argparse
import csv
import io
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from cli.privacy_jobs import add_cli
from jobs.erasure import PER_USER_ROLLUP_TABLES, older_than, tenant_wide_rollups
from jobs.erasure_queue import JobStatus, PrivacyJob
from privacy.suppressions import Suppression
from privacy.tracking import TrackingFilter
from query_api.export import CsvExport, JsonExport, TableShape, chunk_sql, plain
from schemas.rollups import ROLLUPS
from schemas.topics import Stream

WHEN = datetime(2027, 1, 5, 9, 30, 15, 250000)  # as chDB returns DateTime64(3, 'UTC'): naive
ID = uuid.UUID("0190c2a4-7b1e-7c3d-9f00-1a2b3c4d5e6f")


def _json_export(chunks: list[tuple[str, list[list[tuple[object, ...]]]]], columns: list[str]) -> bytes:
    encoding = JsonExport({"user_id": "u1", "tenant_id": "acme", "exported_at": "2027-01-06T00:00:00.000Z"})
    parts = [encoding.begin()]
    for table, table_chunks in chunks:
        parts.append(encoding.table(table))
        parts.extend(encoding.rows(columns, chunk) for chunk in table_chunks)
    parts.append(encoding.end({"timestamp": "t", "request_id": "r", "processing_time": 7}))
    return b"".join(parts)


def test_the_json_export_is_the_envelope_written_chunk_by_chunk() -> None:
    columns = ["id", "timestamp", "score", "tags", "sent_at"]
    row_a = (ID, WHEN, Decimal("72.25"), ["a", "b"], None)
    row_b = (ID, WHEN.replace(tzinfo=timezone(timedelta(hours=2))), Decimal("0.100"), [], None)
    body = _json_export([("first", [[row_a], [row_b, row_a]]), ("empty", []), ("last", [[row_b]])], columns)
    parsed = json.loads(body)
    as_json = {
        "id": str(ID),
        "timestamp": "2027-01-05T09:30:15.250Z",
        "score": 72.25,
        "tags": ["a", "b"],
        "sent_at": None,
    }
    shifted = {**as_json, "timestamp": "2027-01-05T07:30:15.250Z", "score": 0.1, "tags": []}
    assert parsed == {
        "success": True,
        "data": {
            "user_id": "u1",
            "tenant_id": "acme",
            "exported_at": "2027-01-06T00:00:00.000Z",
            "tables": {"first": [as_json, shifted, as_json], "empty": [], "last": [shifted]},
        },
        "metadata": {"timestamp": "t", "request_id": "r", "processing_time": 7},
    }
    assert list(parsed) == ["success", "data", "metadata"]
    assert json.loads(_json_export([], columns))["data"]["tables"] == {}


def test_the_csv_export_has_one_header_a_table_column_and_each_table_in_its_own_columns() -> None:
    encoding = CsvExport(
        [("events", ["id", "user_id", "timestamp", "tags"]), ("usage", ["id", "user_id", "date"])]
    )
    body = b"".join(
        [
            encoding.begin(),
            encoding.table("events"),
            encoding.rows(["id", "user_id", "timestamp", "tags"], [(ID, "u,1", WHEN, ["x", 'say "hi"'])]),
            encoding.table("usage"),
            encoding.rows(["id", "user_id", "date"], [(ID, "u,1", date(2027, 1, 5))]),
            encoding.rows(["id", "user_id", "date"], []),
            encoding.end({}),
        ]
    ).decode()
    lines = list(csv.reader(io.StringIO(body)))
    assert lines == [
        ["table", "id", "user_id", "timestamp", "tags", "date"],
        ["events", str(ID), "u,1", "2027-01-05T09:30:15.250Z", '["x","say \\"hi\\""]', ""],
        ["usage", str(ID), "u,1", "", "", "2027-01-05"],
    ]
    assert body.endswith("\r\n")


def test_plain_values() -> None:
    assert plain(True) is True and plain(3) == 3 and plain("s") == "s" and plain(None) is None
    assert plain(datetime(2027, 1, 5, 23, 0, tzinfo=UTC)) == "2027-01-05T23:00:00.000Z"
    assert plain((Decimal("1.50"), date(2027, 1, 1))) == [1.5, "2027-01-01"]


def test_chunks_continue_after_the_last_key_with_typed_bounds() -> None:
    shape = TableShape(
        "analytics_events",
        ["tenant_id", "id", "user_id", "timestamp"],
        {
            "tenant_id": "LowCardinality(String)",
            "id": "UUID",
            "user_id": "String",
            "timestamp": "DateTime64(3, 'UTC')",
        },
        ["timestamp", "id"],
    )
    first = chunk_sql(shape, after=False)
    assert first == (
        "SELECT tenant_id, id, user_id, timestamp FROM analytics_events FINAL "
        "WHERE tenant_id = {tenant:String} AND user_id = {user:String} "
        "ORDER BY timestamp, id LIMIT {limit:UInt32}"
    )
    assert "AND (timestamp, id) > ({k0:DateTime64(3, 'UTC')}, {k1:UUID}) ORDER BY" in chunk_sql(
        shape, after=True
    )


@dataclass
class Event:
    tenant_id: str
    user_id: str
    received_at: datetime


def test_a_suppression_drops_what_was_received_until_it_closed_and_nothing_later() -> None:
    since = datetime(2027, 1, 5, 9, 0, tzinfo=UTC)
    until = since + timedelta(minutes=3)
    tracking = TrackingFilter()
    events = [
        Event("acme", "x", since - timedelta(days=2)),
        Event("acme", "y", since),
        Event("other", "x", since),
    ]
    assert tracking.keep(Stream.EVENTS, events) == events
    open_one = Suppression("acme", "x", str(ID), since)
    tracking.use_suppressions([open_one])
    assert tracking.suppression("acme", "x") == open_one and tracking.suppression("other", "x") is None
    later = Event("acme", "x", since + timedelta(days=30))
    assert tracking.keep(Stream.EVENTS, [*events, later]) == events[1:]  # open: every event of x
    tracking.use_suppressions([Suppression("acme", "x", str(ID), since, until)])
    naive = Event("acme", "x", until.replace(tzinfo=None))  # at `until` exactly: still dropped
    assert tracking.keep(Stream.ACTIVITIES, [*events, naive, later]) == [*events[1:], later]
    assert not tracking.keeps(Stream.USAGE, "acme", "x")  # no receive time: treated as suppressed
    tracking.use_suppressions([])
    assert tracking.keep(Stream.EVENTS, [*events, later]) == [*events, later]


def test_suppressions_and_opt_outs_apply_together() -> None:
    tracking = TrackingFilter()
    tracking.use([("acme", "y", True, ["events"])])
    tracking.use_suppressions([Suppression("acme", "x", str(ID), WHEN.replace(tzinfo=UTC))])
    now = datetime.now(UTC)
    assert tracking.keeps(Stream.EVENTS, "acme", "y", now) and not tracking.keeps(
        Stream.USAGE, "acme", "y", now
    )
    assert not tracking.keeps(Stream.EVENTS, "acme", "x", now)


def test_every_rollup_is_keyed_by_user_so_a_deletion_touches_nobody_elses_bucket() -> None:
    """Were a tenant-wide rollup added, the deletion would recompute it from raw over the user's days."""
    assert tenant_wide_rollups() == []
    assert sorted(PER_USER_ROLLUP_TABLES) == sorted(item.table for item in ROLLUPS)
    assert all(item.key_columns[:2] == ["tenant_id", "user_id"] for item in ROLLUPS)


def test_a_distributed_job_waits_until_every_worker_refreshed() -> None:
    now = datetime.now(UTC)
    job = PrivacyJob("acme", str(ID), "x", JobStatus.PENDING, "dpo", now, now)
    ready = older_than(40)
    assert not ready(job, Suppression("acme", "x", str(ID), now - timedelta(seconds=30)))
    assert ready(job, Suppression("acme", "x", str(ID), now - timedelta(seconds=41)))


def test_the_cli_registers_privacy_jobs() -> None:
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers())
    args = parser.parse_args(["privacy-jobs", "--pending", "--wait-s", "5"])
    assert (args.pending, args.wait_s, args.handler.__name__) == (True, 5.0, "_cmd_privacy_jobs")
    assert parser.parse_args(["privacy-jobs"]).pending is False
