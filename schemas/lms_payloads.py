"""HTTP request bodies of the learning platform's intake (ADR 0015): three streams, each a union of event
types discriminated by ``type``.

- ``lms_entities`` — full documents of institutes, courses, users and enrollments, each with a ``version``
  (strictly increasing per entity: the LMS's revision, or its ``updated_at`` in microseconds). The newest
  version of an entity wins whatever the arrival order; equal versions must carry equal content (a re-send).
  Documents, never patches: a replacing table cannot merge a patch into the row it replaces.
- ``lms_activity`` — what learners and teachers do: sessions, content views, progress, completions, video
  watch sessions, assessment attempts (each event a snapshot of one attempt so far), and anything else.
- ``lms_telemetry`` — per-tenant platform samples: traffic (requests, 5xx errors, latency, bytes, geography),
  storage used, uptime.

Identifiers of LMS entities are integers as in the seed (1 … 2^53−1); the tenant is the credential's. A
person is ``(user_type, user_id)``: the seed keys users that way, so a student 17 and a teacher 17 are two
people. Every message carries that person as the *subject key* ``"<user_type>:<id>"`` (``student:17``) in
its ``user_id`` field (:func:`subject_key`, :mod:`schemas.lms_messages`), so the partitioning, the id ledger,
tracking preferences, suppressions and GDPR erasure work on LMS data unchanged.

Durations are whole **seconds**, percentages 0–100 with two decimals, scores ``Decimal(7,2)`` points. Times
are ISO-8601 with a zone within the supported range (:mod:`schemas.event_time`). ``timestamp`` is the event
time (for an entity: when this version was recorded) and defaults to the time received; it is what
retention, partitions and the daily/weekly/monthly buckets use. Unknown fields are refused.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, Field, TypeAdapter, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from schemas.json_limits import JSONObject
from schemas.payloads import (
    ID_CLASS,
    ClientTime,
    Count,
    DurationS,
    IPAddress,
    Name,
    Percentage,
    UserAgent,
    WholeNumber,
    _TimedPayload,
)
from schemas.topics import Stream

MAX_LMS_ID = 2**53 - 1
"""Ids, versions and counters stay JSON-safe integers (up to 2^53 − 1): every JSON client, JavaScript's
included, reads them exactly, and a JSON-Schema validator compares them exactly."""
LmsId = Annotated[int, Field(ge=1, le=MAX_LMS_ID), WholeNumber]
"""An LMS entity's integer id (JSON integer; stored ``UInt64``)."""
Flag = Annotated[bool, Field(strict=True)]
"""A JSON boolean: ``0``/``1`` and text are refused, as JSON Schema's ``boolean`` does."""
Version = Annotated[int, Field(ge=0, le=MAX_LMS_ID), WholeNumber]
ByteCount = Annotated[int, Field(ge=0, le=MAX_LMS_ID), WholeNumber]
POINTS_TEXT = r"^[0-9]{1,5}(\.[0-9]{1,2})?$"
POSITIVE_POINTS_TEXT = r"^([1-9][0-9]{0,4}(\.[0-9]{1,2})?|0\.(0[1-9]|[1-9][0-9]?))$"


def _points_text(pattern: str, what: str) -> BeforeValidator:
    """Decimal text only in plain form (``"12.5"``), as percentages: no exponent, sign or spaces."""

    def check(value: Any) -> Any:
        if isinstance(value, str) and re.match(pattern, value) is None:
            raise PydanticCustomError(
                "decimal_parsing", f'must be a number {what}, or one as plain decimal text such as "12.5"'
            )
        return value

    return BeforeValidator(check)


def _points(minimum: str, pattern: str, what: str) -> tuple[Any, ...]:
    bound = Field(gt=0) if minimum == "exclusiveMinimum" else Field(ge=0)
    schema = WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", minimum: 0, "maximum": 99999.99, "multipleOf": 0.01},
                {"type": "string", "pattern": pattern},
            ],
            "description": f"points, {what} with at most 2 decimals",
        }
    )
    limits = Field(le=Decimal("99999.99"), decimal_places=2, allow_inf_nan=False)
    return (bound, limits, _points_text(pattern, what), schema)


Points = Annotated[Decimal, *_points("minimum", POINTS_TEXT, "from 0 to 99999.99")]
"""Points of a score, ``Decimal(7,2)``: a JSON number or plain decimal text."""
MaxPoints = Annotated[Decimal, *_points("exclusiveMinimum", POSITIVE_POINTS_TEXT, "above 0, up to 99999.99")]
"""The points an assessment is out of: above 0."""
Label = Annotated[str, Field(min_length=1, max_length=20)]
"""A short label: the seed's ``VarChar(20)`` (device type, playback quality)."""
SessionId = Annotated[str, Field(min_length=1, max_length=100, pattern=f"^{ID_CLASS}+$")]
"""The seed's ``session_id VarChar(100)``; ids are read back through URL paths, so no '/'."""
SourceName = Annotated[str, Field(min_length=1, max_length=64, pattern=f"^{ID_CLASS}+$")]
MAX_LIST = 1000
SECONDS_PER_DAY = 86_400


class UserType(StrEnum):
    STUDENT = "student"
    TEACHER = "teacher"
    ADMIN = "admin"


class AssessmentType(StrEnum):
    QUIZ = "quiz"
    ASSIGNMENT = "assignment"


class EnrollmentStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    DROPPED = "dropped"


def subject_key(kind: str, ident: int | str) -> str:
    """The subject key of a person (``student:17``), an entity without one (``course:5``) or a telemetry
    source (``source:web-1``): what a message's ``user_id`` holds and its partitioning key is made of."""
    return f"{kind}:{ident}"


# ---- entity upserts ------------------------------------------------------------------------------------


class _EntityUpsert(_TimedPayload):
    version: Version = Field(description="strictly increasing per entity; the newest version wins")
    is_deleted: Flag = Field(default=False, description="soft delete: the entity's newest state is deleted")

    def subject(self) -> str:
        raise NotImplementedError


class InstituteUpsert(_EntityUpsert):
    type: Literal["institute"]
    institute_id: LmsId
    name: Name

    def subject(self) -> str:
        return subject_key("institute", self.institute_id)


class CourseVideo(BaseModel):
    model_config = _TimedPayload.model_config

    video_id: LmsId
    duration_seconds: DurationS = 0


class CourseAssessment(BaseModel):
    model_config = _TimedPayload.model_config

    assessment_id: LmsId
    assessment_type: AssessmentType
    max_score: MaxPoints
    passing_score: Points | None = None

    @model_validator(mode="after")
    def _passable(self) -> CourseAssessment:
        if self.passing_score is not None and self.passing_score > self.max_score:
            raise ValueError("passing_score is above max_score")
        return self


class CourseUpsert(_EntityUpsert):
    type: Literal["course"]
    course_id: LmsId
    institute_id: LmsId | None = None
    title: Name
    teacher_ids: Annotated[list[LmsId], Field(max_length=100)] = Field(default_factory=list)
    is_published: Flag = False
    published_at: ClientTime | None = None
    videos: Annotated[list[CourseVideo], Field(max_length=MAX_LIST)] = Field(default_factory=list)
    assessments: Annotated[list[CourseAssessment], Field(max_length=MAX_LIST)] = Field(default_factory=list)

    def subject(self) -> str:
        return subject_key("course", self.course_id)


class UserUpsert(_EntityUpsert):
    type: Literal["user"]
    user_type: UserType
    user_id: LmsId
    institute_id: LmsId | None = None
    signed_up_at: ClientTime

    def subject(self) -> str:
        return subject_key(self.user_type, self.user_id)


class EnrollmentUpsert(_EntityUpsert):
    type: Literal["enrollment"]
    student_id: LmsId
    course_id: LmsId
    enrolled_at: ClientTime
    status: EnrollmentStatus = EnrollmentStatus.ACTIVE
    progress_percentage: Percentage = Decimal(0)
    completed_at: ClientTime | None = None
    dropped_at: ClientTime | None = None

    def subject(self) -> str:
        return subject_key(UserType.STUDENT, self.student_id)


EntityUpsert = Annotated[
    InstituteUpsert | CourseUpsert | UserUpsert | EnrollmentUpsert, Field(discriminator="type")
]
ENTITY_UPSERTS = (InstituteUpsert, CourseUpsert, UserUpsert, EnrollmentUpsert)
"""The entity upsert models: state, not events, so never refused for the age of their ``timestamp``."""


# ---- learning activity ---------------------------------------------------------------------------------


class _Activity(_TimedPayload):
    user_type: UserType
    user_id: LmsId
    session_id: SessionId | None = None
    device_type: Label | None = None
    ip_address: IPAddress | None = None
    user_agent: UserAgent | None = None
    properties: JSONObject = Field(default_factory=dict)

    def subject(self) -> str:
        return subject_key(self.user_type, self.user_id)


class Login(_Activity):
    """A session starts."""

    type: Literal["login"]


class Logout(_Activity):
    """A session ends; its length is the LMS's (it knows its idle timeouts)."""

    type: Literal["logout"]
    started_at: ClientTime | None = None
    duration_seconds: DurationS


class ContentViewed(_Activity):
    type: Literal["content_viewed"]
    course_id: LmsId
    content_id: LmsId
    content_type: Annotated[str, Field(min_length=1, max_length=32)] = "page"


class ProgressUpdated(_Activity):
    type: Literal["progress_updated"]
    course_id: LmsId
    content_id: LmsId | None = None
    progress_percentage: Percentage


class CourseCompleted(_Activity):
    type: Literal["course_completed"]
    course_id: LmsId


class VideoWatched(_Activity):
    """One summary per watch session: every field of the seed's ``VideoWatchAnalytics``."""

    type: Literal["video_watched"]
    course_id: LmsId
    video_id: LmsId
    session_id: SessionId
    watch_duration: DurationS = Field(description="seconds watched in this session")
    completion_percentage: Percentage
    start_time: ClientTime
    end_time: ClientTime | None = None
    playback_quality: Label | None = None
    buffer_events: Count | None = None
    seek_events: Count | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> VideoWatched:
        if self.end_time is not None and self.end_time < self.start_time:
            raise ValueError("end_time is before start_time")
        return self


class _Attempt(_Activity):
    """A snapshot of one assessment attempt, carrying all of it so far: the newest snapshot (by
    ``timestamp``) is the attempt, so a regrade replaces, never adds."""

    course_id: LmsId
    assessment_id: LmsId
    assessment_type: AssessmentType
    attempt_id: LmsId
    started_at: ClientTime
    submitted_at: ClientTime | None = None
    time_taken_seconds: DurationS | None = None
    score: Points | None = None
    max_score: MaxPoints
    passed: Flag | None = None
    graded_by: LmsId | None = Field(default=None, description="the grading teacher's user id")

    @model_validator(mode="after")
    def _consistent(self) -> _Attempt:
        if self.user_type != UserType.STUDENT:
            raise ValueError("an attempt is a student's: user_type must be student")
        if self.score is not None and self.score > self.max_score:
            raise ValueError("score is above max_score")
        if self.submitted_at is not None and self.submitted_at < self.started_at:
            raise ValueError("submitted_at is before started_at")
        return self


class AssessmentStarted(_Attempt):
    type: Literal["assessment_started"]


class AssessmentSubmitted(_Attempt):
    type: Literal["assessment_submitted"]
    submitted_at: ClientTime


class AssessmentGraded(_Attempt):
    type: Literal["assessment_graded"]
    score: Points


class OtherActivity(_Activity):
    """Anything else (an xAPI verb without a measure): counts as activity, kept whole in the raw table."""

    type: Literal["other"]
    verb: Annotated[str, Field(min_length=1, max_length=255)]
    object_id: Annotated[str, Field(max_length=2048)] | None = None
    course_id: LmsId | None = None


Activity = Annotated[
    Login
    | Logout
    | ContentViewed
    | ProgressUpdated
    | CourseCompleted
    | VideoWatched
    | AssessmentStarted
    | AssessmentSubmitted
    | AssessmentGraded
    | OtherActivity,
    Field(discriminator="type"),
]
ATTEMPT_TYPES = ("assessment_started", "assessment_submitted", "assessment_graded")


# ---- platform telemetry --------------------------------------------------------------------------------

LatencyBound = Literal["25", "50", "100", "250", "500", "1000", "2500", "5000", "inf"]
"""Upper bounds (inclusive, milliseconds) of the latency histogram's buckets; ``inf`` takes the rest."""
LATENCY_BOUNDS_MS: tuple[str, ...] = get_args(LatencyBound)
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
_ONLY_NAMED_KEYS: dict[str, Any] = {"additionalProperties": False}
"""A map whose keys must match its ``patternProperties``: JSON Schema allows any other key unless told."""
RegionCode = Annotated[str, Field(pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$")]


class _Sample(_TimedPayload):
    source: SourceName = Field(description="the node or store reporting (one series per source)")
    interval_seconds: Annotated[int, Field(ge=1, le=SECONDS_PER_DAY), WholeNumber]

    def subject(self) -> str:
        return subject_key("source", self.source)


MAX_LATENCY_MS_SUM = 1e15
"""Bound of a sample's summed latency (ms): stored as whole microseconds in a ``UInt64``."""


class TrafficSample(_Sample):
    type: Literal["traffic"]
    requests: ByteCount
    errors: ByteCount = Field(default=0, description="responses with a 5xx status")
    bytes_served: ByteCount = 0
    latency_ms_sum: Annotated[float, Field(ge=0, le=MAX_LATENCY_MS_SUM, allow_inf_nan=False, strict=True)] = (
        0.0
    )
    latency_ms_histogram: Annotated[
        dict[LatencyBound, ByteCount], Field(max_length=len(LATENCY_BOUNDS_MS))
    ] = Field(
        default_factory=dict, description=f"requests by latency bucket, keys {', '.join(LATENCY_BOUNDS_MS)}"
    )
    requests_by_country: Annotated[dict[CountryCode, ByteCount], Field(max_length=300)] = Field(
        default_factory=dict, description="ISO 3166-1 alpha-2", json_schema_extra=_ONLY_NAMED_KEYS
    )
    requests_by_region: Annotated[dict[RegionCode, ByteCount], Field(max_length=MAX_LIST)] = Field(
        default_factory=dict, description="ISO 3166-2", json_schema_extra=_ONLY_NAMED_KEYS
    )

    @model_validator(mode="after")
    def _consistent(self) -> TrafficSample:
        if self.errors > self.requests:
            raise ValueError("errors exceed requests")
        return self


class StorageSample(_Sample):
    """A level, not a flow: the newest sample of a source is its storage."""

    type: Literal["storage"]
    storage_used_bytes: ByteCount


class UptimeSample(_Sample):
    type: Literal["uptime"]
    up_seconds: Annotated[int, Field(ge=0, le=SECONDS_PER_DAY), WholeNumber]

    @model_validator(mode="after")
    def _within_interval(self) -> UptimeSample:
        if self.up_seconds > self.interval_seconds:
            raise ValueError("up_seconds exceed interval_seconds")
        return self


Telemetry = Annotated[TrafficSample | StorageSample | UptimeSample, Field(discriminator="type")]


# ---- the streams' validators ---------------------------------------------------------------------------


class UnionPayload:
    """A stream whose items are a discriminated union: validates like a model (``model_validate``)."""

    def __init__(self, name: str, union: Any) -> None:
        self.__name__ = name
        self.adapter: TypeAdapter[Any] = TypeAdapter(union)

    def model_validate(self, item: Any) -> Any:
        return self.adapter.validate_python(item)

    def json_schema(self) -> dict[str, Any]:
        return self.adapter.json_schema()


LMS_PAYLOADS: dict[Stream, UnionPayload] = {
    Stream.LMS_ENTITIES: UnionPayload("LmsEntityUpsert", EntityUpsert),
    Stream.LMS_ACTIVITY: UnionPayload("LmsActivity", Activity),
    Stream.LMS_TELEMETRY: UnionPayload("LmsTelemetrySample", Telemetry),
}

LMS_ROUTES: dict[Stream, str] = {
    Stream.LMS_ENTITIES: "/api/learning/entities",
    Stream.LMS_ACTIVITY: "/api/learning/activity",
    Stream.LMS_TELEMETRY: "/api/learning/telemetry",
}
"""The single-item route of each LMS stream; the batch route is ``<route>/batch`` (``{"events": [...]}``)."""


def message_fields(payload: Any) -> dict[str, Any]:
    """The message fields of a validated LMS payload (before the gateway's stamps): its JSON form with
    ``user_id`` holding the subject key and a person's integer id moved to ``lms_user_id``."""
    fields: dict[str, Any] = payload.model_dump(mode="json", exclude_none=True)
    if "user_id" in fields:
        fields["lms_user_id"] = fields["user_id"]
    fields["user_id"] = payload.subject()
    return fields
