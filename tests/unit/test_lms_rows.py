"""The LMS transforms (schemas/lms_rows.py) over hand-written messages of every type: raw rows (every field,
NULLs and zeros where a type lacks a field), current-state rows, feed rows with local buckets across a DST
change and a month end, hour of the week, hundredths; rows back to messages exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, get_args

import pytest

from schemas.lms_messages import UserTypeText
from schemas.lms_payloads import EnrollmentStatus, UserType
from schemas.lms_rows import (
    LMS_RAW_COLUMNS,
    LMS_RAW_TABLES,
    LMS_STATE_COLUMNS,
    MESSAGE_CLASSES,
    lms_message,
)
from schemas.rows import RAW_COLUMNS, RAW_TABLES, TableBatch, feed_rows, raw_rows
from schemas.topics import LMS_STREAMS, Stream
from stream_processors.settings import ZoneLookup
from tests.support.examples import all_examples
from tests.support.lms_stamps import lms_model, lms_stamped

ZONES = ZoneLookup("UTC", {"berlin": "Europe/Berlin"})
# Berlin leaves CET (UTC+1) for CEST (UTC+2) on Sunday 2026-03-29 at 01:00 UTC.

INSTITUTE = {"type": "institute", "institute_id": 3, "name": "North", "version": 1}
COURSE = {
    "type": "course",
    "course_id": 5,
    "institute_id": 3,
    "title": "Algebra",
    "teacher_ids": [4, 9],
    "is_published": True,
    "published_at": "2026-03-01T08:00:00Z",
    "videos": [{"video_id": 50, "duration_seconds": 600}, {"video_id": 51}],
    "assessments": [
        {"assessment_id": 70, "assessment_type": "quiz", "max_score": "20.5", "passing_score": "10.25"},
        {"assessment_id": 71, "assessment_type": "assignment", "max_score": 100},
    ],
    "version": 2,
    "timestamp": "2026-03-28T10:00:00Z",
}
STUDENT = {
    "type": "user",
    "user_type": "student",
    "user_id": 17,
    "signed_up_at": "2026-02-01T09:00:00Z",
    "version": 1,
}
ENROLLMENT = {
    "type": "enrollment",
    "student_id": 17,
    "course_id": 5,
    "enrolled_at": "2026-03-02T09:00:00Z",
    "progress_percentage": "42.5",
    "version": 7,
    "timestamp": "2026-03-29T22:30:00Z",  # Monday 00:30 CEST
}
STUDENT_17 = {"user_type": "student", "user_id": 17}
LOGIN = {
    **STUDENT_17,
    "type": "login",
    "timestamp": "2026-03-29T00:30:00Z",
    "session_id": "s1",
}  # Sun 01:30 CET
LOGOUT = {
    **STUDENT_17,
    "type": "logout",
    "timestamp": "2026-03-29T01:30:00Z",  # Sunday 03:30 CEST: one hour later by the clock, two on the wall
    "session_id": "s1",
    "started_at": "2026-03-29T00:30:00Z",
    "duration_seconds": 3600,
}
VIDEO = {
    **STUDENT_17,
    "type": "video_watched",
    "timestamp": "2026-03-29T22:30:00Z",  # Monday 00:30 CEST: next day, next ISO week
    "course_id": 5,
    "video_id": 50,
    "session_id": "v1",
    "watch_duration": 570,
    "completion_percentage": 95.5,
    "start_time": "2026-03-29T22:20:00Z",
    "device_type": "tablet",
    "seek_events": 4,
}
VIEW = {
    **STUDENT_17,
    "type": "content_viewed",
    "timestamp": "2026-03-31T23:30:00Z",  # Wednesday 2026-04-01 01:30 CEST: next month
    "course_id": 5,
    "content_id": 600,
}
PROGRESS = {
    **STUDENT_17,
    "type": "progress_updated",
    "timestamp": "2026-03-30T08:00:00Z",
    "course_id": 5,
    "progress_percentage": "12.34",
}
COMPLETED = {**STUDENT_17, "type": "course_completed", "timestamp": "2026-03-30T09:00:00Z", "course_id": 5}
STARTED = {
    **STUDENT_17,
    "type": "assessment_started",
    "timestamp": "2026-03-28T23:30:00Z",  # Sunday 00:30 CET
    "course_id": 5,
    "assessment_id": 70,
    "assessment_type": "quiz",
    "attempt_id": 900,
    "started_at": "2026-03-28T23:30:00Z",
    "max_score": "20.5",
}
SUBMITTED = {
    **STARTED,
    "type": "assessment_submitted",
    "timestamp": "2026-03-29T23:10:00Z",  # Monday local, yet the attempt's bucket stays its start day
    "submitted_at": "2026-03-29T23:10:00Z",
    "time_taken_seconds": 1200,
}
GRADED = {
    **STUDENT_17,
    "type": "assessment_graded",
    "timestamp": "2026-03-30T10:00:00Z",
    "course_id": 5,
    "assessment_id": 71,
    "assessment_type": "assignment",
    "attempt_id": 901,
    "started_at": "2026-03-30T07:00:00Z",
    "submitted_at": "2026-03-30T08:00:00Z",
    "score": "87.25",
    "max_score": 100,
    "passed": True,
    "graded_by": 4,
}
OTHER = {
    **STUDENT_17,
    "type": "other",
    "timestamp": "2026-03-30T11:00:00Z",
    "verb": "answered",
    "object_id": "https://lms.example/q/1",
    "properties": {"result": {"success": True}},
}
TRAFFIC = {
    "type": "traffic",
    "source": "web-1",
    "interval_seconds": 60,
    "timestamp": "2026-03-29T00:59:00Z",
    "requests": 100,
    "errors": 3,
    "bytes_served": 5000,
    "latency_ms_sum": 1234.5678,
    "latency_ms_histogram": {"25": 80, "inf": 20},
    "requests_by_country": {"DE": 90, "US": 10},
    "requests_by_region": {"DE-BE": 90},
}
STORAGE = {
    "type": "storage",
    "source": "db-1",
    "interval_seconds": 3600,
    "timestamp": "2026-03-29T01:00:00Z",
    "storage_used_bytes": 10**12,
}
UPTIME = {
    "type": "uptime",
    "source": "web-1",
    "interval_seconds": 300,
    "timestamp": "2026-03-29T02:00:00Z",
    "up_seconds": 290,
}

BODIES = {
    Stream.LMS_ENTITIES: [INSTITUTE, COURSE, STUDENT, ENROLLMENT],
    Stream.LMS_ACTIVITY: [LOGIN, LOGOUT, VIDEO, VIEW, PROGRESS, COMPLETED, STARTED, SUBMITTED, GRADED, OTHER],
    Stream.LMS_TELEMETRY: [TRAFFIC, STORAGE, UPTIME],
}


def models(stream: Stream, bodies: list[dict[str, Any]] | None = None) -> list[Any]:
    return [lms_model(stream, lms_stamped(stream, b, tenant="berlin")) for b in bodies or BODIES[stream]]


def by_column(batch: TableBatch) -> list[dict[str, Any]]:
    return [dict(zip(batch.columns, values, strict=True)) for values in zip(*batch.data, strict=True)]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_every_stream_has_its_raw_table_in_the_shared_maps() -> None:
    assert RAW_TABLES[Stream.LMS_ACTIVITY] == "lms_activity"
    for stream in LMS_STREAMS:
        assert RAW_TABLES[stream] == LMS_RAW_TABLES[stream]
        assert RAW_COLUMNS[stream] == LMS_RAW_COLUMNS[stream]
    assert set(RAW_TABLES) == set(Stream)


@pytest.mark.parametrize("stream", LMS_STREAMS)
def test_every_message_field_but_client_keyed_has_a_column_or_is_in_the_document(stream: Stream) -> None:
    columns = set(LMS_RAW_COLUMNS[stream])
    for kind, cls in MESSAGE_CLASSES[stream].items():
        missing = set(cls.model_fields) - columns - {"client_keyed"}
        if stream is Stream.LMS_ENTITIES:
            assert "document" in columns, kind
        else:
            assert not missing, (kind, missing)


def test_activity_raw_rows_carry_every_field_with_zero_ids_and_nulls_for_what_a_type_lacks() -> None:
    (batch,) = raw_rows(Stream.LMS_ACTIVITY, models(Stream.LMS_ACTIVITY))
    assert batch.table == "lms_activity"
    rows = {row["type"]: row for row in by_column(batch)}
    login, video, graded, other = (
        rows["login"],
        rows["video_watched"],
        rows["assessment_graded"],
        rows["other"],
    )
    assert (login["user_id"], login["user_type"], login["lms_user_id"]) == ("student:17", "student", 17)
    assert (login["course_id"], login["video_id"], login["assessment_id"], login["graded_by"]) == (0, 0, 0, 0)
    assert login["timestamp"] == utc("2026-03-29T00:30:00Z") and login["session_id"] == "s1"
    assert login["started_at"] is None and login["score"] is None and login["passed"] is None
    assert login["properties"] == "{}" and login["ip_address"] is None
    assert (video["course_id"], video["video_id"], video["watch_duration"]) == (5, 50, 570)
    assert video["completion_percentage"] == Decimal("95.5") and video["end_time"] is None
    assert (
        video["device_type"],
        video["playback_quality"],
        video["buffer_events"],
        video["seek_events"],
    ) == (
        "tablet",
        None,
        None,
        4,
    )
    assert video["start_time"] == utc("2026-03-29T22:20:00Z")
    assert (graded["score"], graded["max_score"], graded["passed"], graded["graded_by"]) == (
        Decimal("87.25"),
        Decimal("100"),
        True,
        4,
    )
    assert (graded["assessment_type"], graded["attempt_id"], graded["time_taken_seconds"]) == (
        "assignment",
        901,
        None,
    )
    assert rows["logout"]["duration_seconds"] == 3600 and rows["logout"]["started_at"] == utc(
        "2026-03-29T00:30Z"
    )
    assert rows["progress_updated"]["content_id"] == 0  # left out: none
    assert rows["progress_updated"]["progress_percentage"] == Decimal("12.34")
    assert rows["content_viewed"]["content_type"] == "page"  # the payload's default
    assert (other["verb"], other["object_id"], other["course_id"]) == (
        "answered",
        "https://lms.example/q/1",
        0,
    )
    assert other["properties"] == '{"result":{"success":true}}'


def test_telemetry_raw_rows_hold_zero_or_empty_for_fields_a_sample_type_lacks() -> None:
    (batch,) = raw_rows(Stream.LMS_TELEMETRY, models(Stream.LMS_TELEMETRY))
    traffic, storage, uptime = by_column(batch)
    assert (traffic["user_id"], traffic["source"], traffic["requests"], traffic["errors"]) == (
        "source:web-1",
        "web-1",
        100,
        3,
    )
    assert traffic["latency_ms_histogram"] == {"25": 80, "inf": 20} and traffic["storage_used_bytes"] == 0
    assert (storage["requests"], storage["requests_by_country"], storage["storage_used_bytes"]) == (
        0,
        {},
        10**12,
    )
    assert (uptime["interval_seconds"], uptime["up_seconds"], uptime["latency_ms_sum"]) == (300, 290, 0.0)


def test_entity_upserts_give_the_raw_row_and_one_current_state_batch_per_table_present() -> None:
    batches = raw_rows(Stream.LMS_ENTITIES, models(Stream.LMS_ENTITIES))
    assert [b.table for b in batches] == [
        "lms_entity_upserts",
        "lms_institutes",
        "lms_courses",
        "lms_users",
        "lms_enrollments",
    ]
    for batch in batches[1:]:
        assert batch.columns == LMS_STATE_COLUMNS[batch.table] and batch.row_count == 1
    upserts = by_column(batches[0])
    assert [(r["type"], r["user_id"], r["course_id"], r["version"]) for r in upserts] == [
        ("institute", "institute:3", 0, 1),
        ("course", "course:5", 5, 2),
        ("user", "student:17", 0, 1),
        ("enrollment", "student:17", 5, 7),
    ]
    assert upserts[0]["document"] == '{"institute_id":3,"name":"North"}'
    (institute,) = by_column(batches[1])
    assert institute == {
        "tenant_id": "berlin",
        "institute_id": 3,
        "name": "North",
        "version": 1,
        "is_deleted": 0,
        "updated_at": utc("2027-01-05T12:00:00Z"),  # no timestamp sent: the time received
    }
    (course,) = by_column(batches[2])
    assert (course["institute_id"], course["teacher_ids"], course["is_published"]) == (3, [4, 9], 1)
    assert (course["video_ids"], course["video_seconds"]) == ([50, 51], [600, 0])
    assert (course["assessment_ids"], course["assessment_types"]) == ([70, 71], ["quiz", "assignment"])
    assert (course["max_score_centi"], course["passing_score_centi"]) == ([2050, 10000], [1025, None])
    assert course["published_at"] == utc("2026-03-01T08:00:00Z") and course["updated_at"] == utc(
        "2026-03-28T10:00Z"
    )
    (user,) = by_column(batches[3])
    assert (user["user_id"], user["user_type"], user["lms_user_id"], user["institute_id"]) == (
        "student:17",
        "student",
        17,
        0,
    )
    (enrollment,) = by_column(batches[4])
    assert (enrollment["user_id"], enrollment["student_id"], enrollment["course_id"]) == ("student:17", 17, 5)
    assert (enrollment["status"], enrollment["progress_centi"], enrollment["completed_at"]) == (
        "active",
        4250,
        None,
    )


def test_an_entity_batch_without_some_types_has_no_batch_for_their_tables() -> None:
    batches = raw_rows(Stream.LMS_ENTITIES, models(Stream.LMS_ENTITIES, [COURSE, {**COURSE, "version": 3}]))
    assert [(b.table, b.row_count) for b in batches] == [("lms_entity_upserts", 2), ("lms_courses", 2)]


def test_activity_feed_rows_are_bucketed_in_the_tenant_zone_across_dst_and_a_month_end() -> None:
    activity, video, attempts = feed_rows(Stream.LMS_ACTIVITY, models(Stream.LMS_ACTIVITY), ZONES)
    assert (activity.table, video.table, attempts.table) == (
        "feed_lms_activity",
        "feed_lms_video",
        "feed_lms_attempts",
    )
    rows = {r["type"]: r for r in by_column(activity)}
    march_23, march_29, march_30 = date(2026, 3, 23), date(2026, 3, 29), date(2026, 3, 30)
    assert [
        (rows[t]["day"], rows[t]["week"], rows[t]["month"], rows[t]["hour_of_week"])
        for t in ("login", "logout", "video_watched", "content_viewed")
    ] == [
        (march_29, march_23, date(2026, 3, 1), 6 * 24 + 1),  # Sunday 01:30 CET
        (march_29, march_23, date(2026, 3, 1), 6 * 24 + 3),  # Sunday 03:30 CEST: 02:00-03:00 never happened
        (march_30, march_30, date(2026, 3, 1), 0),  # Monday 00:30 CEST
        (date(2026, 4, 1), march_30, date(2026, 4, 1), 2 * 24 + 1),  # Wednesday 01:30, April
    ]
    login, logout, watched, view = (rows[t] for t in ("login", "logout", "video_watched", "content_viewed"))
    assert (login["course_id"], login["course_or_null"], login["is_view"], login["session_seconds"]) == (
        0,
        None,
        0,
        0,
    )
    assert (logout["session_seconds"], logout["user_type"]) == (3600, "student")
    assert (
        watched["course_or_null"],
        watched["video_or_null"],
        watched["watch_seconds"],
        watched["is_view"],
    ) == (5, 50, 570, 1)
    assert (view["is_view"], view["video_or_null"]) == (1, None)
    started, submitted, graded = (
        rows["assessment_started"],
        rows["assessment_submitted"],
        rows["assessment_graded"],
    )
    assert (started["quiz_started"], started["submitted_quiz"], started["submitted_assignment"]) == (
        1,
        None,
        None,
    )
    assert (submitted["quiz_started"], submitted["submitted_quiz"], submitted["submitted_assignment"]) == (
        0,
        70,
        None,
    )
    assert (graded["quiz_started"], graded["submitted_quiz"], graded["submitted_assignment"]) == (0, None, 71)
    assert (rows["other"]["course_id"], rows["other"]["course_or_null"]) == (0, None)
    assert rows["course_completed"]["course_or_null"] == 5

    (video_row,) = by_column(video)
    assert video_row == {
        "tenant_id": "berlin",
        "user_id": "student:17",
        "day": march_30,
        "week": march_30,
        "month": date(2026, 3, 1),
        "course_id": 5,
        "video_id": 50,
        "device_type": "tablet",
        "playback_quality": "",
        "watch_duration": 570,
        "completion_centi": 9550,
        "completed": 1,
        "buffer_events": 0,
        "seek_events": 4,
    }
    first, second, third = by_column(attempts)
    started_ms = int(datetime(2026, 3, 28, 23, 30, tzinfo=UTC).timestamp()) * 1000
    submitted_ms = int(datetime(2026, 3, 29, 23, 10, tzinfo=UTC).timestamp()) * 1000
    assert (
        first["day"],
        first["state"],
        first["score_centi"],
        first["max_score_centi"],
        first["passed"],
    ) == (
        march_29,  # started Sunday 00:30 CET
        "started",
        None,
        2050,
        None,
    )
    assert (first["snapshot_version"], second["snapshot_version"]) == (started_ms * 4, submitted_ms * 4 + 1)
    assert (second["day"], second["state"], second["time_taken_seconds"]) == (march_29, "submitted", 1200)
    assert (third["day"], third["assessment_type"], third["attempt_id"], third["state"]) == (
        march_30,
        "assignment",
        901,
        "graded",
    )
    assert (third["score_centi"], third["max_score_centi"], third["passed"]) == (8725, 10000, 1)


def test_a_utc_tenant_buckets_the_same_events_by_utc_days() -> None:
    (activity, _, _) = feed_rows(
        Stream.LMS_ACTIVITY,
        [lms_model(Stream.LMS_ACTIVITY, lms_stamped(Stream.LMS_ACTIVITY, VIDEO, tenant="acme"))],
        ZONES,
    )
    (row,) = by_column(activity)
    assert (row["day"], row["week"], row["hour_of_week"]) == (
        date(2026, 3, 29),
        date(2026, 3, 23),
        6 * 24 + 22,
    )


def test_enrollment_feed_rows_come_from_enrollment_upserts_only() -> None:
    (feed,) = feed_rows(Stream.LMS_ENTITIES, models(Stream.LMS_ENTITIES), ZONES)
    (row,) = by_column(feed)
    assert row == {
        "tenant_id": "berlin",
        "user_id": "student:17",
        "day": date(2026, 3, 30),  # the version's timestamp, Monday 00:30 CEST
        "week": date(2026, 3, 30),
        "month": date(2026, 3, 1),
        "course_id": 5,
        "status": "active",
        "progress_centi": 4250,
        "is_deleted": 0,
        "version": 7,
    }


def test_telemetry_feed_rows() -> None:
    (feed,) = feed_rows(Stream.LMS_TELEMETRY, models(Stream.LMS_TELEMETRY), ZONES)
    traffic, storage, uptime = by_column(feed)
    assert (traffic["day"], traffic["source"], traffic["type"], traffic["requests"], traffic["errors"]) == (
        date(2026, 3, 29),
        "web-1",
        "traffic",
        100,
        3,
    )
    assert (traffic["latency_us_sum"], traffic["bytes_served"], traffic["observed_seconds"]) == (
        1234568,
        5000,
        0,
    )
    assert traffic["requests_by_country"] == {"DE": 90, "US": 10} and traffic["requests_by_region"] == {
        "DE-BE": 90
    }
    assert traffic["sampled_at"] == utc("2026-03-29T00:59:00Z")
    assert (storage["storage_used_bytes"], storage["requests"], storage["latency_ms_histogram"]) == (
        10**12,
        0,
        {},
    )
    assert (uptime["observed_seconds"], uptime["up_seconds"], uptime["storage_used_bytes"]) == (300, 290, 0)


def _round_trip(stream: Stream, messages: list[Any]) -> None:
    batch = raw_rows(stream, messages)[0]
    for message, values in zip(messages, zip(*batch.data, strict=True), strict=True):
        back = lms_message(stream, batch.columns, values)
        assert type(back) is type(message)
        assert back.model_dump(exclude={"client_keyed"}) == message.model_dump(exclude={"client_keyed"})


@pytest.mark.parametrize("stream", LMS_STREAMS)
def test_raw_rows_turn_back_into_the_very_messages(stream: Stream) -> None:
    _round_trip(stream, models(stream))
    examples = [lms_model(s, lms_stamped(s, body)) for s, _, body in all_examples("valid", [stream])]
    assert examples
    _round_trip(stream, examples)


@pytest.mark.parametrize("stream", LMS_STREAMS)
def test_rows_are_deterministic(stream: Stream) -> None:
    events = models(stream)
    assert raw_rows(stream, events) == raw_rows(stream, events)
    assert feed_rows(stream, events, ZONES) == feed_rows(stream, events, ZONES)


def test_message_enums_as_text_are_the_payload_enum_values() -> None:
    assert set(get_args(UserTypeText)) == {t.value for t in UserType}
    status = MESSAGE_CLASSES[Stream.LMS_ENTITIES]["enrollment"].model_fields["status"].annotation
    assert set(get_args(status)) == {s.value for s in EnrollmentStatus}
