"""Pure transforms of the learning platform's messages (ADR 0015, :mod:`schemas.lms_messages`) into rows: the
raw tables, the current-state tables of entities, and the LMS rollup feeds. No I/O, deterministic (a batch
re-formed after a crash must yield the very same rows, so the insert tokens drop the repeat).

**Raw tables** (migration 0020), one per stream, every message field but ``client_keyed`` (transport
bookkeeping, as in the product's raw tables), so :func:`lms_message` rebuilds the message exactly (rollup
rebuilds, round-trip tests):

- ``lms_entity_upserts`` — every version of every entity: the common fields as columns (``course_id`` for
  courses and enrollments, else 0, to find a course's rows) and the type's own fields as a JSON
  ``document`` (absent optional fields left out).
- ``lms_activity`` — one wide table: a column per field of every activity type. Integer ids that a type
  lacks or leaves out (``course_id``, ``content_id``, ``video_id``, ``assessment_id``, ``attempt_id``,
  ``graded_by``) are 0 — LMS ids are ≥ 1, so 0 means "none" without ambiguity and keeps the skip indexes
  cheap; every other field a type lacks or leaves out is NULL. ``video_watched`` rows are the seed's
  ``VideoWatchAnalytics``.
- ``lms_telemetry`` — a column per sample field; a field the sample's ``type`` lacks is 0 or an empty map
  (the ``type`` says which fields it has).

**Current state** (``lms_institutes``, ``lms_courses``, ``lms_users``, ``lms_enrollments``): one row per
entity upsert, ``ReplacingMergeTree(version)`` read ``FINAL``, so the newest version wins whatever the
arrival order; ``updated_at`` is the version's ``timestamp``; decimals are stored in hundredths
(``*_centi``); a course's videos and assessments are parallel arrays.

**Feeds**: as the docstring of :mod:`schemas.lms_rollups` specifies, buckets in the tenant's zone
(:func:`schemas.rollup_model.buckets`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Any, get_args
from zoneinfo import ZoneInfo

import orjson
from pydantic import BaseModel

from schemas.lms_messages import ActivityMessage, EntityMessage, TelemetryMessage
from schemas.lms_payloads import ATTEMPT_TYPES, AssessmentType
from schemas.lms_rollups import (
    LMS_ACTIVITY_FEED,
    LMS_ATTEMPTS_FEED,
    LMS_ENROLLMENTS_FEED,
    LMS_TELEMETRY_FEED,
    LMS_VIDEO_FEED,
    VIDEO_COMPLETED_PERCENT,
)
from schemas.rollup_model import buckets, date_buckets
from schemas.table_batch import TableBatch, ZoneFor, json_text
from schemas.topics import Stream

LMS_RAW_TABLES = {
    Stream.LMS_ENTITIES: "lms_entity_upserts",
    Stream.LMS_ACTIVITY: "lms_activity",
    Stream.LMS_TELEMETRY: "lms_telemetry",
}

_STAMPS = ["sent_at", "received_at", "time_clamped", "schema_version"]
_ENTITY_COLUMNS = ["tenant_id", "id", "user_id", "timestamp", "type", "course_id", "version", "is_deleted"]
_ACTIVITY_IDS = ("course_id", "content_id", "video_id", "assessment_id", "attempt_id", "graded_by")
"""Integer ids stored 0 when absent (see the module docstring)."""
_ACTIVITY_FIELDS = [
    "session_id",
    "course_id",
    "content_id",
    "content_type",
    "progress_percentage",
    "started_at",
    "duration_seconds",
    "video_id",
    "watch_duration",
    "completion_percentage",
    "start_time",
    "end_time",
    "playback_quality",
    "buffer_events",
    "seek_events",
    "assessment_id",
    "assessment_type",
    "attempt_id",
    "submitted_at",
    "time_taken_seconds",
    "score",
    "max_score",
    "passed",
    "graded_by",
    "verb",
    "object_id",
    "device_type",
    "properties",
    "user_agent",
    "ip_address",
    "browser",  # browser ... device: parsed from the user agent by the gateway (privacy.policy)
    "browser_version",
    "os",
    "os_version",
    "device",
]
_TELEMETRY_FIELDS = [
    "source",
    "interval_seconds",
    "requests",
    "errors",
    "bytes_served",
    "latency_ms_sum",
    "latency_ms_histogram",
    "requests_by_country",
    "requests_by_region",
    "storage_used_bytes",
    "up_seconds",
]
_TELEMETRY_MAPS = frozenset({"latency_ms_histogram", "requests_by_country", "requests_by_region"})

LMS_RAW_COLUMNS: dict[Stream, list[str]] = {
    Stream.LMS_ENTITIES: [*_ENTITY_COLUMNS, "document", *_STAMPS],
    Stream.LMS_ACTIVITY: [
        "tenant_id",
        "id",
        "user_id",
        "timestamp",
        "type",
        "user_type",
        "lms_user_id",
        *_ACTIVITY_FIELDS,
        *_STAMPS,
    ],
    Stream.LMS_TELEMETRY: ["tenant_id", "id", "user_id", "timestamp", "type", *_TELEMETRY_FIELDS, *_STAMPS],
}

_VERSIONED = ["version", "is_deleted", "updated_at"]
LMS_VIDEO_SESSIONS = "lms_video_sessions"
"""The ``video_watched`` rows of ``lms_activity`` again, sorted by course and start time (migration 0021: a
materialized view copies each row as ``lms_activity`` stores it): a course's watch sessions of a period are
one range of it, where ``lms_activity``, sorted by person, makes that read scan the tenant's every event. The
same engine and version column as ``lms_activity``, so a redelivered event collapses in both."""

LMS_STATE_TABLES = {
    "institute": "lms_institutes",
    "course": "lms_courses",
    "user": "lms_users",
    "enrollment": "lms_enrollments",
}
"""Entity type → its current-state table."""
LMS_STATE_COLUMNS: dict[str, list[str]] = {
    "lms_institutes": ["tenant_id", "institute_id", "name", *_VERSIONED],
    "lms_courses": [
        "tenant_id",
        "course_id",
        "institute_id",
        "title",
        "teacher_ids",
        "is_published",
        "published_at",
        "video_ids",
        "video_seconds",
        "assessment_ids",
        "assessment_types",
        "max_score_centi",
        "passing_score_centi",
        *_VERSIONED,
    ],
    "lms_users": [
        "tenant_id",
        "user_id",
        "user_type",
        "lms_user_id",
        "institute_id",
        "signed_up_at",
        *_VERSIONED,
    ],
    "lms_enrollments": [
        "tenant_id",
        "user_id",
        "student_id",
        "course_id",
        "enrolled_at",
        "status",
        "progress_centi",
        "completed_at",
        "dropped_at",
        *_VERSIONED,
    ],
}


def _classes(union: Any) -> dict[str, type[BaseModel]]:
    """``type`` value → message class of a discriminated union of :mod:`schemas.lms_messages`."""
    found: dict[str, type[BaseModel]] = {}
    for cls in get_args(get_args(union)[0]):
        (name,) = get_args(cls.model_fields["type"].annotation)
        found[name] = cls
    return found


MESSAGE_CLASSES: dict[Stream, dict[str, type[BaseModel]]] = {
    Stream.LMS_ENTITIES: _classes(EntityMessage),
    Stream.LMS_ACTIVITY: _classes(ActivityMessage),
    Stream.LMS_TELEMETRY: _classes(TelemetryMessage),
}
"""Per LMS stream, ``type`` → the message class of that type."""


def centi(value: Decimal) -> int:
    """A decimal with at most two places (percentages, points) in hundredths: exact."""
    return int(value.scaleb(2))


def _centi_or_none(value: Decimal | None) -> int | None:
    return None if value is None else centi(value)


def hour_of_week(local: datetime) -> int:
    """Wall-clock hour of the week of a local time: Monday 00:00–00:59 = 0 … Sunday 23:00–23:59 = 167."""
    return local.weekday() * 24 + local.hour


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_STAGE = {"assessment_started": 0, "assessment_submitted": 1, "assessment_graded": 2}


def snapshot_version(moment: datetime, event_type: str) -> int:
    """An attempt snapshot's version: its time in ms × 4 + its stage (started 0, submitted 1, graded 2), so
    the newest snapshot wins and a grading wins over a submission of the same millisecond."""
    return ((moment - _EPOCH) // _MS) * 4 + _STAGE[event_type]


# ---- raw rows ------------------------------------------------------------------------------------------

_ENTITY_STAMPED = frozenset([*_ENTITY_COLUMNS, *_STAMPS, "client_keyed"])


def _document_fields(kind: str, cls: type[BaseModel]) -> set[str]:
    fields = set(cls.model_fields) - _ENTITY_STAMPED
    if kind in ("course", "enrollment"):
        fields.add("course_id")
    return fields


_DOCUMENT_FIELDS = {
    cls: _document_fields(kind, cls) for kind, cls in MESSAGE_CLASSES[Stream.LMS_ENTITIES].items()
}
"""Entity message class → the fields its ``document`` holds."""


def _document(m: BaseModel) -> str:
    """The entity's own fields (those not stored as columns) as JSON, absent optional ones left out."""
    return m.model_dump_json(include=_DOCUMENT_FIELDS[type(m)], exclude_none=True)


def _raw_entity(m: Any) -> tuple[Any, ...]:
    return (
        m.tenant_id,
        m.id,
        m.user_id,
        m.timestamp,
        m.type,
        getattr(m, "course_id", 0),
        m.version,
        int(m.is_deleted),
        _document(m),
        m.sent_at,
        m.received_at,
        m.time_clamped,
        m.schema_version,
    )


_ACTIVITY_ABSENT = {
    column: 0 if column in _ACTIVITY_IDS else None for column in LMS_RAW_COLUMNS[Stream.LMS_ACTIVITY]
}
"""What an ``lms_activity`` column holds for a type that lacks the field."""


@dataclass(frozen=True, slots=True)
class _ColumnPlan:
    """For one activity message class: the positions of the columns its fields fill and one getter of
    those fields' values (a C call per message instead of a lookup per column)."""

    present: frozenset[int]
    values: Callable[[dict[str, Any]], tuple[Any, ...]]


def _column_plan(cls: type[BaseModel]) -> _ColumnPlan:
    columns = LMS_RAW_COLUMNS[Stream.LMS_ACTIVITY]
    present = [i for i, column in enumerate(columns) if column in cls.model_fields]
    names = [columns[i] for i in present]
    getter = itemgetter(*names)
    values = getter if len(names) > 1 else (lambda fields: (getter(fields),))
    return _ColumnPlan(frozenset(present), values)


_COLUMN_PLANS = {cls: _column_plan(cls) for cls in MESSAGE_CLASSES[Stream.LMS_ACTIVITY].values()}
_ID_POSITIONS = [i for i, c in enumerate(LMS_RAW_COLUMNS[Stream.LMS_ACTIVITY]) if c in _ACTIVITY_IDS]
_PROPERTIES_POSITION = LMS_RAW_COLUMNS[Stream.LMS_ACTIVITY].index("properties")


def _activity_columns(events: Sequence[Any]) -> list[list[Any]]:
    """The ``lms_activity`` columns of ``events``, rows grouped by message type (in order of each type's
    first event; deterministic, as a re-formed batch needs).

    Built a type at a time: one getter call per message gives the fields its type has, transposed into
    those columns, and the columns the type lacks are filled with their absent value. Reading each message
    once keeps this several times faster than a pass over every message per column of the wide table."""
    columns = LMS_RAW_COLUMNS[Stream.LMS_ACTIVITY]
    by_type: dict[type[Any], list[dict[str, Any]]] = {}
    for m in events:
        by_type.setdefault(type(m), []).append(m.__dict__)
    data: list[list[Any]] = [[] for _ in columns]
    for cls, fields in by_type.items():
        plan = _COLUMN_PLANS[cls]
        filled = zip(*map(plan.values, fields), strict=True)
        for position, column in enumerate(columns):
            if position in plan.present:
                data[position].extend(next(filled))
            else:
                data[position].extend([_ACTIVITY_ABSENT[column]] * len(fields))
    for position in _ID_POSITIONS:  # an optional id left out is None in the message, 0 in the table
        data[position] = [value or 0 for value in data[position]]
    data[_PROPERTIES_POSITION] = [json_text(value) for value in data[_PROPERTIES_POSITION]]
    return data


def _raw_telemetry(m: Any) -> tuple[Any, ...]:
    get = m.__dict__.get
    return (
        m.tenant_id,
        m.id,
        m.user_id,
        m.timestamp,
        m.type,
        m.source,
        m.interval_seconds,
        get("requests", 0),
        get("errors", 0),
        get("bytes_served", 0),
        get("latency_ms_sum", 0.0),
        get("latency_ms_histogram", {}),
        get("requests_by_country", {}),
        get("requests_by_region", {}),
        get("storage_used_bytes", 0),
        get("up_seconds", 0),
        m.sent_at,
        m.received_at,
        m.time_clamped,
        m.schema_version,
    )


def _versioned(m: Any) -> tuple[Any, ...]:
    return (m.version, int(m.is_deleted), m.timestamp)


def _institute_state(m: Any) -> tuple[Any, ...]:
    return (m.tenant_id, m.institute_id, m.name, *_versioned(m))


def _course_state(m: Any) -> tuple[Any, ...]:
    assessments = m.assessments
    return (
        m.tenant_id,
        m.course_id,
        m.institute_id or 0,
        m.title,
        list(m.teacher_ids),
        int(m.is_published),
        m.published_at,
        [v.video_id for v in m.videos],
        [v.duration_seconds for v in m.videos],
        [a.assessment_id for a in assessments],
        [a.assessment_type for a in assessments],
        [centi(a.max_score) for a in assessments],
        [_centi_or_none(a.passing_score) for a in assessments],
        *_versioned(m),
    )


def _user_state(m: Any) -> tuple[Any, ...]:
    return (
        m.tenant_id,
        m.user_id,
        m.user_type,
        m.lms_user_id,
        m.institute_id or 0,
        m.signed_up_at,
        *_versioned(m),
    )


def _enrollment_state(m: Any) -> tuple[Any, ...]:
    return (
        m.tenant_id,
        m.user_id,
        m.student_id,
        m.course_id,
        m.enrolled_at,
        m.status,
        centi(m.progress_percentage),
        m.completed_at,
        m.dropped_at,
        *_versioned(m),
    )


_STATE_ROW: dict[str, Callable[[Any], tuple[Any, ...]]] = {
    "institute": _institute_state,
    "course": _course_state,
    "user": _user_state,
    "enrollment": _enrollment_state,
}


def _entity_batches(events: Sequence[Any]) -> list[TableBatch]:
    """The raw upserts, then one current-state batch per entity type present (in a fixed order)."""
    table = LMS_RAW_TABLES[Stream.LMS_ENTITIES]
    batches = [
        TableBatch.from_rows(table, LMS_RAW_COLUMNS[Stream.LMS_ENTITIES], [_raw_entity(m) for m in events])
    ]
    for kind, state_table in LMS_STATE_TABLES.items():
        rows = [_STATE_ROW[kind](m) for m in events if m.type == kind]
        if rows:
            batches.append(TableBatch.from_rows(state_table, LMS_STATE_COLUMNS[state_table], rows))
    return batches


def lms_raw_rows(stream: Stream, events: Sequence[Any]) -> list[TableBatch]:
    """The raw rows of ``events`` (validated messages of an LMS ``stream``); for entity upserts also the
    current-state rows, one batch per entity table present."""
    if stream is Stream.LMS_ENTITIES:
        return _entity_batches(events)
    table, columns = LMS_RAW_TABLES[stream], LMS_RAW_COLUMNS[stream]
    if stream is Stream.LMS_ACTIVITY:
        return [TableBatch(table, columns, _activity_columns(events))]
    return [TableBatch.from_rows(table, columns, [_raw_telemetry(m) for m in events])]


# ---- raw rows back to messages -------------------------------------------------------------------------


def _utc(value: Any) -> Any:
    """Times read back without a zone are UTC (the columns' zone)."""
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value


def lms_message(stream: Stream, columns: Sequence[str], row: Iterable[Any]) -> Any:
    """The message a raw row of an LMS ``stream`` was made from (the inverse of :func:`lms_raw_rows`'s raw
    row, ``client_keyed`` aside); raises ``pydantic.ValidationError`` for a row the models refuse."""
    values = {name: _utc(value) for name, value in zip(columns, row, strict=True)}
    cls = MESSAGE_CLASSES[stream][str(values["type"])]
    if stream is Stream.LMS_ENTITIES:
        fields = {name: values[name] for name in _ENTITY_COLUMNS if name != "course_id"}
        fields.update((name, values[name]) for name in _STAMPS if values[name] is not None)
        fields.update(orjson.loads(values["document"]))
        return cls.model_validate(_flags(cls, fields))
    wanted = cls.model_fields
    fields = {}
    for name, value in values.items():
        if name not in wanted or value is None or (value == 0 and name in _ACTIVITY_IDS):
            continue
        if name == "properties":
            value = orjson.loads(value) if value else {}
        fields[name] = value
    return cls.model_validate(_flags(cls, fields))


def _flags(cls: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with the booleans the columns hold as ``UInt8`` as booleans again (the messages take
    JSON booleans only)."""
    for name, info in cls.model_fields.items():
        value = fields.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and bool in _types_of(info.annotation):
            fields[name] = bool(value)
    return fields


def _types_of(annotation: Any) -> tuple[Any, ...]:
    return get_args(annotation) or (annotation,)


# ---- feeds ---------------------------------------------------------------------------------------------


class _ZonesOnce(dict[str, ZoneInfo]):
    """A batch's tenant → zone, asking ``zone_for`` once per tenant (a batch holds a few tenants)."""

    def __init__(self, zone_for: ZoneFor) -> None:
        super().__init__()
        self._zone_for = zone_for

    def __missing__(self, tenant: str) -> ZoneInfo:
        zone = self[tenant] = self._zone_for(tenant)
        return zone


_SUBMITTED = frozenset(("assessment_submitted", "assessment_graded"))
_VIEWS = frozenset(("content_viewed", "video_watched"))
_QUIZ: str = AssessmentType.QUIZ  # an enum member looked up once, not per event


def _activity_feed_row(m: Any, zone: ZoneInfo) -> tuple[Any, ...]:
    get = m.__dict__.get
    kind = m.type
    course = get("course_id")
    submitted = m.assessment_id if kind in _SUBMITTED else None
    is_quiz = get("assessment_type") == _QUIZ
    local = m.timestamp.astimezone(zone)  # once for the buckets and the hour of the week
    return (
        m.tenant_id,
        m.user_id,
        *date_buckets(local.date()),
        m.user_type,
        kind,
        course or 0,
        course,
        m.video_id if kind == "video_watched" else None,
        submitted if is_quiz else None,
        None if is_quiz else submitted,
        1 if kind in _VIEWS else 0,
        1 if kind == "assessment_started" and is_quiz else 0,
        m.watch_duration if kind == "video_watched" else 0,
        m.duration_seconds if kind == "logout" else 0,
        hour_of_week(local),
    )


def _video_feed_row(m: Any, zone: ZoneInfo) -> tuple[Any, ...]:
    return (
        m.tenant_id,
        m.user_id,
        *buckets(m.timestamp, zone),
        m.course_id,
        m.video_id,
        m.device_type or "",
        m.playback_quality or "",
        m.watch_duration,
        centi(m.completion_percentage),
        1 if m.completion_percentage >= VIDEO_COMPLETED_PERCENT else 0,
        m.buffer_events or 0,
        m.seek_events or 0,
    )


def _attempt_feed_row(m: Any, zone: ZoneInfo) -> tuple[Any, ...]:
    return (
        m.tenant_id,
        m.user_id,
        *buckets(m.started_at, zone),
        m.course_id,
        m.assessment_type,
        m.assessment_id,
        m.attempt_id,
        m.type.removeprefix("assessment_"),
        _centi_or_none(m.score),
        centi(m.max_score),
        None if m.passed is None else int(m.passed),
        m.time_taken_seconds,
        snapshot_version(m.timestamp, m.type),
    )


def _activity_feeds(events: Sequence[Any], zone_for: ZoneFor) -> list[TableBatch]:
    activity, video, attempts = [], [], []
    zones = _ZonesOnce(zone_for)
    for m in events:
        zone = zones[m.tenant_id]
        activity.append(_activity_feed_row(m, zone))
        if m.type == "video_watched":
            video.append(_video_feed_row(m, zone))
        elif m.type in ATTEMPT_TYPES:
            attempts.append(_attempt_feed_row(m, zone))
    return [
        TableBatch.from_rows(LMS_ACTIVITY_FEED.table, LMS_ACTIVITY_FEED.column_names, activity),
        TableBatch.from_rows(LMS_VIDEO_FEED.table, LMS_VIDEO_FEED.column_names, video),
        TableBatch.from_rows(LMS_ATTEMPTS_FEED.table, LMS_ATTEMPTS_FEED.column_names, attempts),
    ]


def _enrollment_feeds(events: Sequence[Any], zone_for: ZoneFor) -> list[TableBatch]:
    zones = _ZonesOnce(zone_for)
    rows = [
        (
            m.tenant_id,
            m.user_id,
            *buckets(m.timestamp, zones[m.tenant_id]),
            m.course_id,
            m.status,
            centi(m.progress_percentage),
            int(m.is_deleted),
            m.version,
        )
        for m in events
        if m.type == "enrollment"
    ]
    return [TableBatch.from_rows(LMS_ENROLLMENTS_FEED.table, LMS_ENROLLMENTS_FEED.column_names, rows)]


def _telemetry_feeds(events: Sequence[Any], zone_for: ZoneFor) -> list[TableBatch]:
    zones = _ZonesOnce(zone_for)
    rows = []
    for m in events:
        get = m.__dict__.get
        rows.append(
            (
                m.tenant_id,
                m.user_id,
                *buckets(m.timestamp, zones[m.tenant_id]),
                m.source,
                m.type,
                get("requests", 0),
                get("errors", 0),
                get("bytes_served", 0),
                round(get("latency_ms_sum", 0.0) * 1000),
                get("latency_ms_histogram", {}),
                get("requests_by_country", {}),
                get("requests_by_region", {}),
                m.interval_seconds if m.type == "uptime" else 0,
                get("up_seconds", 0),
                get("storage_used_bytes", 0),
                m.timestamp,
            )
        )
    return [TableBatch.from_rows(LMS_TELEMETRY_FEED.table, LMS_TELEMETRY_FEED.column_names, rows)]


LMS_FEED_ROWS: dict[Stream, Callable[[Sequence[Any], ZoneFor], list[TableBatch]]] = {
    Stream.LMS_ENTITIES: _enrollment_feeds,
    Stream.LMS_ACTIVITY: _activity_feeds,
    Stream.LMS_TELEMETRY: _telemetry_feeds,
}
"""Per LMS stream: its events → the rollup feed rows (one batch per feed, possibly empty)."""

FEED_TIME_COLUMN = {LMS_ATTEMPTS_FEED.table: "started_at"}
"""Feeds bucketed by another raw column than ``timestamp`` (a rebuild reads their rows by it)."""
FEED_ROW_TYPES = {LMS_ATTEMPTS_FEED.table: ATTEMPT_TYPES}
"""The raw ``type`` values that feed a feed of :data:`FEED_TIME_COLUMN`."""
