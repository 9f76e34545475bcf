"""The pure parts of GDPR export and deletion: the streamed encodings, the suppression rule the workers
apply (to LMS messages too, and the redaction of a teacher being erased from others' messages), and the
facts the deletion relies on (every personal rollup keyed by user; which tables hold people's data)."""

from __future__ import annotations

import argparse
import csv
import io
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from cli.privacy_jobs import add_cli
from jobs.erasure import DERIVED_TABLES, TEACHER_MENTIONS, lms_teacher, older_than
from jobs.erasure_queue import JobStatus, PrivacyJob
from privacy.personal_data import (
    PER_USER_COPY_TABLES,
    PER_USER_ROLLUP_TABLES,
    PERSONAL_RAW_TABLES,
    PERSONAL_STATE_TABLES,
    tenant_wide_rollups,
)
from privacy.suppressions import Suppression
from privacy.tracking import TrackingFilter
from query_api.export import EXPORT_TABLES, CsvExport, JsonExport, TableShape, chunk_sql, plain
from schemas.lms_messages import LMS_MESSAGES
from schemas.rollups import PRODUCT_ROLLUPS, ROLLUPS
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
    row_b: tuple[object, ...] = (
        ID,
        WHEN.replace(tzinfo=timezone(timedelta(hours=2))),
        Decimal("0.100"),
        [],
        None,
    )
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
    one_per_user = TableShape("lms_users", ["tenant_id", "user_id", "version"], shape.types, [])
    assert chunk_sql(one_per_user, after=False) == (
        "SELECT tenant_id, user_id, version FROM lms_users FINAL "
        "WHERE tenant_id = {tenant:String} AND user_id = {user:String} LIMIT {limit:UInt32}"
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


AT = WHEN.replace(tzinfo=UTC)


def _lms(stream: Stream, fields: dict[str, object], received: datetime = AT) -> Any:
    """A stamped LMS message of ``stream`` (what a worker decodes), in tenant ``acme``."""
    stamps = {"tenant_id": "acme", "id": str(uuid.uuid4()), "received_at": received, "timestamp": received}
    return LMS_MESSAGES[stream].model_validate({**stamps, **fields})


def _graded(student: int, grader: int | None, received: datetime = AT) -> Any:
    attempt = {
        "type": "assessment_graded",
        "user_id": f"student:{student}",
        "lms_user_id": student,
        "user_type": "student",
        "course_id": 5,
        "assessment_id": 50,
        "assessment_type": "quiz",
        "attempt_id": 500 + student,
        "started_at": WHEN.replace(tzinfo=UTC) - timedelta(minutes=20),
        "submitted_at": WHEN.replace(tzinfo=UTC) - timedelta(minutes=5),
        "score": "7.50",
        "max_score": "10",
        "passed": True,
    }
    return _lms(
        Stream.LMS_ACTIVITY, {**attempt, **({} if grader is None else {"graded_by": grader})}, received
    )


def _course(teachers: list[int]) -> Any:
    fields = {"type": "course", "user_id": "course:5", "course_id": 5, "title": "Algebra", "version": 3}
    return _lms(Stream.LMS_ENTITIES, {**fields, "teacher_ids": teachers})


def _login(subject: str) -> Any:
    kind, ident = subject.split(":")
    fields = {"type": "login", "user_id": subject, "lms_user_id": int(ident), "user_type": kind}
    return _lms(Stream.LMS_ACTIVITY, fields)


def test_suppressions_drop_every_lms_stream_of_the_subject_key_and_nobody_elses() -> None:
    since = WHEN.replace(tzinfo=UTC) - timedelta(hours=1)
    tracking = TrackingFilter()
    tracking.use_suppressions([Suppression("acme", "student:17", str(ID), since)])
    enrollment = _lms(
        Stream.LMS_ENTITIES,
        {"type": "enrollment", "user_id": "student:17", "student_id": 17, "course_id": 5, "version": 1,
         "enrolled_at": since},
    )  # fmt: skip
    profile = _lms(
        Stream.LMS_ENTITIES,
        {"type": "user", "user_id": "student:17", "lms_user_id": 17, "user_type": "student", "version": 1,
         "signed_up_at": since},
    )  # fmt: skip
    others = [_login("teacher:17"), _login("student:18"), _graded(18, grader=17)]
    assert tracking.keep(Stream.LMS_ACTIVITY, [_login("student:17"), _graded(17, None), *others]) == others
    course = _course([17])  # a teacher 17's course: not the student's
    assert tracking.keep(Stream.LMS_ENTITIES, [enrollment, profile, course]) == [course]
    sample = _lms(
        Stream.LMS_TELEMETRY,
        {
            "type": "uptime",
            "user_id": "source:web-1",
            "source": "web-1",
            "interval_seconds": 60,
            "up_seconds": 60,
        },
    )
    assert tracking.keep(Stream.LMS_TELEMETRY, [sample]) == [sample]


def test_preferences_govern_lms_activity_but_not_the_platforms_records_or_telemetry() -> None:
    """An opt-out (or a trackable stream left out) drops the person's learning activity like their product
    events; their user and enrollment upserts are the platform's records and stay. Product streams behave as
    before."""
    tracking = TrackingFilter()
    tracking.use(
        [
            ("acme", "student:17", False, []),
            ("acme", "student:18", True, ["events", "performance", "usage", "activities"]),
            ("acme", "y", True, ["events", "lms_activity"]),
        ]
    )
    now = datetime.now(UTC)
    assert not tracking.keeps(Stream.LMS_ACTIVITY, "acme", "student:17", now)
    assert not tracking.keeps(Stream.LMS_ACTIVITY, "acme", "student:18", now)
    assert tracking.keeps(Stream.LMS_ACTIVITY, "acme", "y", now)
    assert tracking.keeps(Stream.LMS_ACTIVITY, "acme", "student:19", now)
    assert tracking.keeps(Stream.LMS_ACTIVITY, "other", "student:17", now)
    for stream in (Stream.LMS_ENTITIES, Stream.LMS_TELEMETRY):
        assert all(tracking.keeps(stream, "acme", u, now) for u in ("student:17", "student:18", "y"))
    product = [Stream.EVENTS, Stream.PERFORMANCE, Stream.USAGE, Stream.ACTIVITIES]
    assert [tracking.keeps(s, "acme", "student:17", now) for s in product] == [False] * 4
    assert [tracking.keeps(s, "acme", "student:18", now) for s in product] == [True] * 4
    assert [tracking.keeps(s, "acme", "y", now) for s in product] == [True, False, False, False]
    tracking.use([("acme", "z", True, ["events", "performance", "usage", "activities", "lms_activity"])])
    assert all(tracking.keeps(s, "acme", "z", now) for s in Stream)  # tracks everything: no restriction


def test_a_teacher_being_erased_is_redacted_from_other_peoples_messages_received_until_it_closed() -> None:
    since = WHEN.replace(tzinfo=UTC) - timedelta(hours=1)
    until = WHEN.replace(tzinfo=UTC) + timedelta(minutes=1)
    tracking = TrackingFilter()
    graded, course = _graded(18, grader=4), _course([3, 4, 9])
    assert tracking.redacted(Stream.LMS_ACTIVITY, graded) is graded  # no suppressions: the very event
    tracking.use_suppressions([Suppression("acme", "teacher:4", str(ID), since, until)])
    unnamed = _graded(18, grader=None)
    assert tracking.redacted(Stream.LMS_ACTIVITY, graded) == unnamed.model_copy(update={"id": graded.id})
    assert tracking.redacted(Stream.LMS_ENTITIES, course).teacher_ids == [3, 9]
    assert tracking.redacted(Stream.LMS_ENTITIES, course).title == "Algebra"
    for kept in (_graded(18, grader=3), _course([3, 9]), _login("student:4")):
        stream = Stream.LMS_ENTITIES if kept.type == "course" else Stream.LMS_ACTIVITY
        assert tracking.redacted(stream, kept) is kept
    later = _graded(18, grader=4, received=until + timedelta(seconds=1))  # received after: new data
    assert tracking.redacted(Stream.LMS_ACTIVITY, later) is later
    tracking.use_suppressions([Suppression("acme", "student:4", str(ID), since)])  # a student 4 is not him
    assert tracking.redacted(Stream.LMS_ACTIVITY, graded) is graded
    assert tracking.redacted(Stream.LMS_ENTITIES, course) is course


def test_every_personal_rollup_is_keyed_by_user_so_a_deletion_touches_nobody_elses_bucket() -> None:
    """Were a personal tenant-wide rollup added, the deletion would recompute it from raw over the user's
    days; the LMS platform's telemetry rollups hold nobody and are neither deleted from nor recomputed."""
    assert tenant_wide_rollups() == []
    impersonal = {item.table for item in ROLLUPS if not item.personal}
    assert impersonal == {"rollup_lms_platform_traffic", "rollup_lms_platform_storage"}
    assert all("user_id" not in item.dimensions for item in ROLLUPS if not item.personal)
    assert sorted(PER_USER_ROLLUP_TABLES) == sorted(item.table for item in ROLLUPS if item.personal)
    assert {item.table for item in PRODUCT_ROLLUPS} < set(PER_USER_ROLLUP_TABLES)
    assert {
        "rollup_lms_course_activity",
        "rollup_lms_user_days",
        "rollup_lms_video_views",
        "rollup_lms_attempts",
        "rollup_lms_enrollment_progress",
    } < set(PER_USER_ROLLUP_TABLES)
    assert all(item.key_columns[:2] == ["tenant_id", "user_id"] for item in ROLLUPS if item.personal)


def test_people_are_in_the_product_raw_tables_and_the_lms_activity_upsert_and_state_tables() -> None:
    assert PERSONAL_RAW_TABLES == (
        "analytics_events",
        "performance_metrics",
        "usage_metrics",
        "activity_logs",
        "lms_activity",
        "lms_entity_upserts",
    )
    assert PERSONAL_STATE_TABLES == ("lms_users", "lms_enrollments")
    assert (*PERSONAL_RAW_TABLES, *PERSONAL_STATE_TABLES) == EXPORT_TABLES  # product tables first, as before
    # copies of raw rows (lms_activity's watch sessions by course) are erased with the rollups, not exported
    assert PER_USER_COPY_TABLES == ("lms_video_sessions",)
    assert (*PER_USER_ROLLUP_TABLES, *PER_USER_COPY_TABLES) == DERIVED_TABLES
    assert not set(PER_USER_COPY_TABLES) & set(EXPORT_TABLES)


def test_only_a_teachers_subject_key_names_a_teacher() -> None:
    assert lms_teacher("teacher:4") == 4 and lms_teacher("teacher:9007199254740991") == 2**53 - 1
    for other in ("student:4", "admin:4", "teacher:", "teacher:04", "teacher:0", "teacher:-4", "teacher:4x",
                  "teacher:9223372036854775808", "teacher:٤", "4", "teacher"):  # fmt: skip
        assert lms_teacher(other) is None, other
    assert [(m.table, m.assignment.split(" =")[0]) for m in TEACHER_MENTIONS] == [
        ("lms_activity", "graded_by"),
        ("lms_courses", "teacher_ids"),
        ("lms_entity_upserts", "document"),
    ]


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
