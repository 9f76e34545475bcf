"""LMS messages through the agents' steps into ClickHouse (chDB): the embedded writer (both groups at once)
and the ``raw`` then ``rollups`` groups with intents. Every field of every type is stored as sent; entity
versions delivered out of order leave the newest in the current-state tables; an activity whose course has
not arrived is counted (and joins once it arrives); a batch delivered again with the same tokens changes
nothing; the rollups equal values computed by hand below.

The tenant is in Berlin, which moves to summer time on Sunday 2026-03-29 at 01:00 UTC: from then on local
time is UTC+2, so 2026-03-29T22:30Z is Monday 00:30 and the week of 2026-03-30."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from clickhouse_connect.driver.client import Client

from plumbing.migrate import migrate
from plumbing.storage import Storage
from schemas.lms_rows import LMS_RAW_COLUMNS, LMS_RAW_TABLES, LMS_STATE_TABLES, lms_message
from schemas.messages import encode_batch
from schemas.rollups import Grain, rollup
from schemas.topics import LMS_STREAMS, Stream
from stream_processors.intents import Intent, IntentLog
from stream_processors.pipeline import AgentGroup, BatchWriter, Delivery
from stream_processors.settings import ZoneLookup
from tests.conftest import ClickHouseTarget
from tests.support.examples import same_value
from tests.support.lms_stamps import lms_model, lms_stamped
from tests.support.pipeline import RecordingDeadLetters
from tests.support.rollup_reads import select_sql

pytestmark = pytest.mark.clickhouse
TENANT = "berlin"
ZONES = ZoneLookup("UTC", {TENANT: "Europe/Berlin"})
S17 = {"user_type": "student", "user_id": 17}
TEACHER = {"user_type": "teacher", "user_id": 4}


def course(version: int, title: str, course_id: int = 5) -> dict[str, Any]:
    return {
        "type": "course",
        "course_id": course_id,
        "institute_id": 3,
        "title": title,
        "teacher_ids": [4],
        "is_published": version > 1,
        "videos": [{"video_id": 50, "duration_seconds": 600}],
        "assessments": [
            {"assessment_id": 70, "assessment_type": "quiz", "max_score": 20, "passing_score": "12.5"},
            {"assessment_id": 71, "assessment_type": "assignment", "max_score": 100},
        ],
        "version": version,
        "timestamp": f"2026-03-0{version}T08:00:00Z",
    }


def enrollment(version: int, progress: str, timestamp: str) -> dict[str, Any]:
    return {
        "type": "enrollment",
        "student_id": 17,
        "course_id": 5,
        "enrolled_at": "2026-03-02T09:00:00Z",
        "progress_percentage": progress,
        "version": version,
        "timestamp": timestamp,
    }


QUIZ_ATTEMPT = {
    **S17,
    "course_id": 5,
    "assessment_id": 70,
    "assessment_type": "quiz",
    "attempt_id": 900,
    "started_at": "2026-03-29T11:00:00Z",
    "max_score": 20,
}
ACTIVITY = [
    {**S17, "type": "login", "timestamp": "2026-03-29T00:30:00Z", "session_id": "s1"},  # Sun 01:30 CET
    {
        **S17,
        "type": "video_watched",
        "timestamp": "2026-03-29T10:00:00Z",
        "course_id": 5,
        "video_id": 50,
        "session_id": "s1",
        "watch_duration": 600,
        "completion_percentage": 100,
        "start_time": "2026-03-29T09:50:00Z",
        "end_time": "2026-03-29T10:00:00Z",
        "device_type": "desktop",
        "playback_quality": "1080p",
        "buffer_events": 2,
        "seek_events": 3,
        "ip_address": "192.0.2.7",
        "user_agent": "Mozilla/5.0",
        "properties": {"player": "html5"},
    },
    {
        **S17,
        "type": "video_watched",
        "timestamp": "2026-03-29T22:30:00Z",
        "course_id": 5,
        "video_id": 50,
        "session_id": "s2",
        "watch_duration": 300,
        "completion_percentage": "50",
        "start_time": "2026-03-29T22:25:00Z",
    },
    {
        "user_type": "student",
        "user_id": 18,
        "type": "content_viewed",
        "timestamp": "2026-03-29T12:00:00Z",
        "course_id": 8,
        "content_id": 800,
        "content_type": "pdf",
    },  # course 8 has no entity yet
    {**QUIZ_ATTEMPT, "type": "assessment_started", "timestamp": "2026-03-29T11:00:00Z"},
    {
        **QUIZ_ATTEMPT,
        "type": "assessment_graded",
        "timestamp": "2026-03-30T09:00:00Z",
        "submitted_at": "2026-03-29T11:20:00Z",
        "time_taken_seconds": 1200,
        "score": 15,
        "passed": True,
        "graded_by": 4,
    },
    {
        **S17,
        "type": "logout",
        "timestamp": "2026-03-29T12:00:00Z",
        "session_id": "s1",
        "started_at": "2026-03-29T11:10:00Z",
        "duration_seconds": 3000,
    },
    {**TEACHER, "type": "login", "timestamp": "2026-03-30T08:00:00Z", "device_type": "mobile"},
    {
        **S17,
        "type": "progress_updated",
        "timestamp": "2026-03-30T10:00:00Z",
        "course_id": 5,
        "progress_percentage": "33.33",
    },
    {**S17, "type": "course_completed", "timestamp": "2026-03-30T11:00:00Z", "course_id": 5},
    {
        **S17,
        "type": "assessment_submitted",
        "timestamp": "2026-03-30T10:30:00Z",
        "course_id": 5,
        "assessment_id": 71,
        "assessment_type": "assignment",
        "attempt_id": 901,
        "started_at": "2026-03-30T09:30:00Z",
        "submitted_at": "2026-03-30T10:30:00Z",
        "max_score": 100,
    },
    {
        **TEACHER,
        "type": "other",
        "timestamp": "2026-03-30T12:00:00Z",
        "verb": "answered",
        "object_id": "https://lms.example/q/1",
        "sent_at": "2026-03-30T12:00:01Z",
        "id": "0190a1b2-0000-7000-8000-000000000001",
        "properties": {"result": {"success": True}},
    },
]
TRAFFIC = {"type": "traffic", "source": "web-1", "interval_seconds": 60}
STORAGE = {"type": "storage", "source": "db-1", "interval_seconds": 3600}


def stamped(stream: Stream, bodies: list[dict[str, Any]]) -> tuple[Stream, list[dict[str, Any]]]:
    return stream, [lms_stamped(stream, body, tenant=TENANT) for body in bodies]


# In delivery order, one Kafka message each. Versions arrive out of order: course 3, 1, 2; enrollment 2, 1;
# the institute's deletion after its first version; storage's later sample before its earlier one.
BATCHES = [
    stamped(
        Stream.LMS_ENTITIES,
        [
            course(3, "New"),
            {"type": "institute", "institute_id": 3, "name": "North", "version": 1},
            enrollment(2, "50", "2026-03-29T22:30:00Z"),
        ],
    ),
    stamped(Stream.LMS_ACTIVITY, ACTIVITY),
    stamped(
        Stream.LMS_ENTITIES,
        [
            course(1, "Old"),
            enrollment(1, "10", "2026-03-02T09:00:00Z"),
            {
                "type": "user",
                "user_type": "student",
                "user_id": 17,
                "signed_up_at": "2026-02-01T09:00:00Z",
                "institute_id": 3,
                "version": 1,
            },
            {"type": "institute", "institute_id": 3, "name": "North", "version": 2, "is_deleted": True},
        ],
    ),
    stamped(Stream.LMS_ENTITIES, [course(2, "Mid")]),
    stamped(
        Stream.LMS_TELEMETRY,
        [
            {
                **TRAFFIC,
                "timestamp": "2026-03-29T09:00:00Z",
                "requests": 100,
                "errors": 1,
                "bytes_served": 1000,
                "latency_ms_sum": 250.0,
                "latency_ms_histogram": {"25": 60, "50": 40},
                "requests_by_country": {"DE": 70, "US": 30},
                "requests_by_region": {"DE-BE": 70},
            },
            {**STORAGE, "timestamp": "2026-03-29T20:00:00Z", "storage_used_bytes": 3000},
        ],
    ),
    stamped(
        Stream.LMS_TELEMETRY,
        [
            {**STORAGE, "timestamp": "2026-03-29T08:00:00Z", "storage_used_bytes": 1000},
            {
                **TRAFFIC,
                "timestamp": "2026-03-29T10:00:00Z",
                "requests": 50,
                "bytes_served": 500,
                "latency_ms_histogram": {"25": 50},
                "requests_by_country": {"DE": 50},
            },
            {
                "type": "uptime",
                "source": "web-1",
                "interval_seconds": 300,
                "up_seconds": 290,
                "timestamp": "2026-03-29T11:00:00Z",
            },
        ],
    ),
    stamped(Stream.LMS_ENTITIES, [course(1, "Statistics", course_id=8)]),  # course 8 after its activity
]


def deliveries() -> list[tuple[Stream, Delivery]]:
    return [
        (stream, Delivery(f"t.{stream.value}", 0, offset, encode_batch(messages)))
        for offset, (stream, messages) in enumerate(BATCHES)
    ]


async def ingest_embedded(clickhouse: ClickHouseTarget, times: int) -> None:
    """The embedded mode's writers (group ``None``: raw and feeds in one go), each commit written
    ``times`` times with the same intent, as a batch re-formed after a crash would be."""
    storage = Storage(clickhouse.client)
    writers = {
        s: BatchWriter(s, None, "embedded", storage, None, RecordingDeadLetters(), ZONES) for s in Stream
    }
    for _ in range(times):
        for stream, delivery in deliveries():
            intent = Intent(
                f"embedded/{delivery.offset}", delivery.topic, 0, delivery.offset, delivery.offset
            )
            await writers[stream].write([delivery], intent)
    assert all(w.events_written and not w.dead_lettered for s, w in writers.items() if s in LMS_STREAMS)
    storage.close()


async def ingest_groups(clickhouse: ClickHouseTarget) -> None:
    """The ``raw`` group, then the ``rollups`` group, each delivered every batch twice (same intents)."""
    storage = Storage(clickhouse.client)
    intents = IntentLog(storage)
    for group in AgentGroup:
        letters = RecordingDeadLetters()
        writers = {
            s: BatchWriter(s, group, f"g-{group.value}", storage, intents, letters, ZONES) for s in Stream
        }
        for stream, delivery in [*deliveries(), *deliveries()]:
            await writers[stream].write([delivery])
        assert not letters.letters
    storage.close()


def count(client: Client, sql: str) -> int:
    return int(client.query(sql).result_rows[0][0])


def measures(
    client: Client, name: str, grain: Grain, keys: list[str], only: list[str]
) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """Per key, the ``only`` measures of rollup ``name`` at ``grain`` (merged as the declarations say)."""
    result = client.query(select_sql(rollup(name), grain, keys))
    columns = list(result.column_names)
    return {tuple(row[: len(keys)]): tuple(row[columns.index(m)] for m in only) for row in result.result_rows}


def as_json_value(value: Any) -> Any:
    """A stored value in the form its message carries it (times as UTC ISO text, decimals as text)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    return value


def stored_by_id(client: Client, stream: Stream) -> dict[str, dict[str, Any]]:
    columns = LMS_RAW_COLUMNS[stream]
    rows = client.query(f"SELECT {', '.join(columns)} FROM {LMS_RAW_TABLES[stream]} FINAL").result_rows
    return {str(row[1]): dict(zip(columns, row, strict=True)) for row in rows}


def assert_stored_as_sent(client: Client) -> None:
    """Every sent field equals its stored value; every stored column the message has no field for is
    empty (NULL, 0, an empty map); the row turns back into the very message model."""
    for stream in LMS_STREAMS:
        stored = stored_by_id(client, stream)
        sent = [m for s, messages in BATCHES if s is stream for m in messages]
        assert sorted(stored) == sorted(m["id"] for m in sent), stream
        for message in sent:
            row = stored[message["id"]]
            fields = {name: as_json_value(value) for name, value in row.items()}
            if stream is Stream.LMS_ENTITIES:
                fields.update(json.loads(fields.pop("document")))
                fields["is_deleted"] = bool(fields["is_deleted"])
            if "properties" in fields:
                fields["properties"] = json.loads(fields["properties"])
            for name, value in message.items():
                if name != "client_keyed":
                    assert same_value(value, fields[name]), (message["type"], name, value, fields[name])
            for name in set(fields) - set(message):
                assert fields[name] in (None, 0, {}, ""), (message["type"], name, fields[name])
            back = lms_message(stream, list(row), list(row.values()))
            assert back == lms_model(stream, {**message, "client_keyed": False}), message["type"]


def assert_current_state(client: Client) -> None:
    courses = client.query(
        "SELECT course_id, title, version, is_published, institute_id, max_score_centi, passing_score_centi "
        "FROM lms_courses FINAL ORDER BY course_id"
    ).result_rows
    assert courses == [
        (5, "New", 3, 1, 3, [2000, 10000], [1250, None]),
        (8, "Statistics", 1, 0, 3, [2000, 10000], [1250, None]),
    ]
    assert client.query(
        "SELECT institute_id, name, version, is_deleted FROM lms_institutes FINAL"
    ).result_rows == [(3, "North", 2, 1)]
    assert client.query(
        "SELECT user_id, student_id, course_id, progress_centi, status, version FROM lms_enrollments FINAL"
    ).result_rows == [("student:17", 17, 5, 5000, "active", 2)]
    assert client.query(
        "SELECT user_id, user_type, lms_user_id, institute_id, toString(signed_up_at) FROM lms_users FINAL"
    ).result_rows == [("student:17", "student", 17, 3, "2026-02-01 09:00:00.000")]
    # the activity counted before course 8 existed joins it now that it does
    joined = client.query(
        "SELECT a.course_id, c.title, c.institute_id, sum(a.events) FROM rollup_lms_course_activity AS a "
        "INNER JOIN (SELECT * FROM lms_courses FINAL) AS c "
        "ON a.tenant_id = c.tenant_id AND a.course_id = c.course_id "
        "WHERE a.grain = 'daily' GROUP BY a.course_id, c.title, c.institute_id ORDER BY a.course_id"
    ).result_rows
    assert joined == [(5, "New", 3, 7), (8, "Statistics", 3, 1)]


def assert_exactly_once(client: Client) -> None:
    """One row per message in every raw table and one per version in every state table, unmerged: the
    repeats were dropped by their insert tokens, not collapsed later."""
    for stream in LMS_STREAMS:
        sent = sum(len(messages) for s, messages in BATCHES if s is stream)
        assert count(client, f"SELECT count() FROM {LMS_RAW_TABLES[stream]}") == sent, stream
    versions = dict.fromkeys(LMS_STATE_TABLES, 0)
    for stream, messages in BATCHES:
        if stream is Stream.LMS_ENTITIES:
            for message in messages:
                versions[message["type"]] += 1
    for kind, table in LMS_STATE_TABLES.items():
        assert count(client, f"SELECT count() FROM {table}") == versions[kind], table


D29, D30, W23, M3 = date(2026, 3, 29), date(2026, 3, 30), date(2026, 3, 23), date(2026, 3, 1)
S17_KEY, S18_KEY, T4_KEY = "student:17", "student:18", "teacher:4"


def assert_rollups(client: Client) -> None:
    course_keys = ["user_id", "course_id", "bucket"]
    course_measures = [
        "events",
        "views",
        "video_views",
        "watch_seconds",
        "completions",
        "quiz_attempts",
        "quiz_submissions",
        "assignment_submissions",
    ]
    sunday, monday = (2, 1, 1, 600, 0, 1, 0, 0), (5, 1, 1, 300, 1, 0, 0, 1)
    viewer_18 = (1, 1, 0, 0, 0, 0, 0, 0)
    assert measures(client, "lms_course_activity", Grain.DAY, course_keys, course_measures) == {
        (S17_KEY, 5, D29): sunday,
        (S17_KEY, 5, D30): monday,
        (S18_KEY, 8, D29): viewer_18,
    }
    assert measures(client, "lms_course_activity", Grain.WEEK, course_keys, course_measures) == {
        (S17_KEY, 5, W23): sunday,
        (S17_KEY, 5, D30): monday,
        (S18_KEY, 8, W23): viewer_18,
    }
    assert measures(client, "lms_course_activity", Grain.MONTH, course_keys, course_measures) == {
        (S17_KEY, 5, M3): (7, 2, 2, 900, 1, 1, 0, 1),
        (S18_KEY, 8, M3): viewer_18,
    }

    day_keys = ["user_id", "user_type", "bucket"]
    day_measures = [
        "events",
        "logins",
        "sessions_ended",
        "session_seconds",
        "courses_accessed",
        "videos_watched",
        "video_views",
        "quizzes_attempted",
        "quizzes_completed",
        "assignments_submitted",
        "courses_completed",
        "events_by_hour",
    ]
    assert measures(client, "lms_user_days", Grain.DAY, day_keys, day_measures) == {
        # Sunday: login 01:30 CET (hour 6*24+1), video 12:00, quiz 13:00, logout 14:00 CEST
        (S17_KEY, "student", D29): (
            4,
            1,
            1,
            3000,
            1,
            1,
            1,
            1,
            0,
            0,
            0,
            {"145": 1, "156": 1, "157": 1, "158": 1},
        ),
        # Monday: video 00:30, grading 11:00, progress and submission 12:xx, completion 13:00
        (S17_KEY, "student", D30): (5, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, {"0": 1, "11": 1, "12": 2, "13": 1}),
        (S18_KEY, "student", D29): (1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, {"158": 1}),
        (T4_KEY, "teacher", D30): (2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, {"10": 1, "14": 1}),
    }
    monthly = measures(client, "lms_user_days", Grain.MONTH, day_keys, day_measures)
    # one course and one video over the month: unique across the two days, not a sum of daily uniques
    assert monthly[(S17_KEY, "student", M3)][:11] == (9, 1, 1, 3000, 1, 1, 2, 1, 1, 1, 1)

    video_keys = ["user_id", "course_id", "video_id", "device_type", "playback_quality", "bucket"]
    video_measures = [
        "watch_sessions",
        "watch_seconds",
        "completion_centi",
        "completed_sessions",
        "buffer_events",
        "seek_events",
    ]
    assert measures(client, "lms_video_views", Grain.DAY, video_keys, video_measures) == {
        (S17_KEY, 5, 50, "desktop", "1080p", D29): (1, 600, 10000, 1, 2, 3),
        (S17_KEY, 5, 50, "", "", D30): (1, 300, 5000, 0, 0, 0),
    }

    attempt_keys = ["user_id", "course_id", "assessment_type", "assessment_id", "attempt_id", "bucket"]
    attempt_values = client.query(
        "SELECT "
        + ", ".join(attempt_keys)
        + ", state, score_centi, max_score_centi, passed, time_taken_seconds "
        "FROM rollup_lms_attempts FINAL ORDER BY attempt_id"
    ).result_rows
    assert attempt_values == [
        (S17_KEY, 5, "quiz", 70, 900, D29, "graded", 1500, 2000, 1, 1200),  # the grading replaced the start
        (S17_KEY, 5, "assignment", 71, 901, D30, "submitted", None, 10000, None, None),
    ]
    progress = client.query(
        "SELECT user_id, course_id, bucket, status, progress_centi, version "
        "FROM rollup_lms_enrollment_progress FINAL ORDER BY bucket"
    ).result_rows
    assert progress == [
        (S17_KEY, 5, date(2026, 3, 2), "active", 1000, 1),
        (S17_KEY, 5, D30, "active", 5000, 2),
    ]

    traffic_measures = [
        "samples",
        "requests",
        "errors",
        "bytes_served",
        "latency_us_sum",
        "latency_ms_histogram",
        "requests_by_country",
        "requests_by_region",
        "observed_seconds",
        "up_seconds",
    ]
    assert measures(client, "lms_platform_traffic", Grain.DAY, ["source", "bucket"], traffic_measures) == {
        ("web-1", D29): (
            3,
            150,
            1,
            1500,
            250000,
            {"25": 110, "50": 40},
            {"DE": 120, "US": 30},
            {"DE-BE": 70},
            300,
            290,
        ),
        ("db-1", D29): (2, 0, 0, 0, 0, {}, {}, {}, 0, 0),
    }
    for grain in Grain:  # the later sample wins though it arrived first
        storage = measures(client, "lms_platform_storage", grain, ["source"], ["storage_used_bytes"])
        assert storage == {("db-1",): (3000,)}, grain


def assert_everything(client: Client) -> None:
    assert_stored_as_sent(client)
    assert_exactly_once(client)
    assert_current_state(client)
    assert_rollups(client)


async def test_embedded_writer_stores_every_field_newest_versions_and_rollups_once(
    clickhouse: ClickHouseTarget,
) -> None:
    client = clickhouse.client()
    migrate(client)
    await ingest_embedded(clickhouse, times=2)
    assert_everything(client)
    client.close()


async def test_raw_and_rollups_groups_store_the_same_with_every_batch_delivered_twice(
    clickhouse: ClickHouseTarget,
) -> None:
    client = clickhouse.client()
    migrate(client)
    await ingest_groups(clickhouse)
    assert_everything(client)
    client.close()
