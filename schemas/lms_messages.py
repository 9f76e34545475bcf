"""Kafka messages of the LMS streams (ADR 0015): the payloads of :mod:`schemas.lms_payloads` with the
gateway's stamps, in the micro-batch envelope of :mod:`schemas.messages` (ADR 0003).

A message's ``user_id`` is its *subject key* (``student:17``, ``course:5``, ``source:web-1``: see
:func:`schemas.lms_payloads.subject_key`) and a person's integer id is ``lms_user_id``, so every step keyed
by ``(tenant_id, user_id)`` (partitions, ledger, tracking, suppressions, erasure) treats LMS messages as it
treats the product's. The workers validate every event again: one injected straight into a topic that
breaks the contract is dead-lettered, never stored.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from schemas.event_time import StoredTime
from schemas.lms_payloads import (
    MAX_LMS_ID,
    AssessmentGraded,
    AssessmentStarted,
    AssessmentSubmitted,
    ContentViewed,
    CourseCompleted,
    CourseUpsert,
    EnrollmentUpsert,
    InstituteUpsert,
    Login,
    Logout,
    OtherActivity,
    ProgressUpdated,
    StorageSample,
    TrafficSample,
    UptimeSample,
    UserUpsert,
    VideoWatched,
)
from schemas.message_fields import ClientField, HashedIPAddress, SentAt, _ServerFields
from schemas.payloads import MAX_COUNT, MAX_DURATION_S, IPAddress
from schemas.topics import Stream

SubjectKey = Annotated[str, Field(min_length=3, max_length=96, pattern=r"^[a-z]+:[^\x00-\x1f\x7f/]+$")]


class _LmsServerFields(_ServerFields):
    """The gateway's stamps, and the subject key in ``user_id``."""

    user_id: SubjectKey
    timestamp: StoredTime
    sent_at: SentAt = None


# Workers validate every event of every message, and a Python validator per field costs more than the
# rest of the decode: the fields of the most frequent events are re-declared with pydantic-core constraints
# only (as :data:`schemas.event_time.StoredTime` does for times). The gateway wrote these messages from
# validated payloads, so the core constraints (ranges, integer ids, two-decimal percentages) are the same
# rules; an event injected straight into a topic that breaks them is still refused.
CoreId = Annotated[int, Field(ge=1, le=MAX_LMS_ID, strict=True)]
CoreSeconds = Annotated[int, Field(ge=0, le=MAX_DURATION_S, strict=True)]
CoreCount = Annotated[int, Field(ge=0, le=MAX_COUNT, strict=True)]
CorePercent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2, allow_inf_nan=False)]
CorePoints = Annotated[Decimal, Field(ge=0, le=Decimal("99999.99"), decimal_places=2, allow_inf_nan=False)]


UserTypeText = Literal["student", "teacher", "admin"]
"""The values of :class:`schemas.lms_payloads.UserType` (a test keeps them equal), as plain text: a
``Literal`` validates without the enum lookup that would cost every activity message its share."""


class _PersonFields(_LmsServerFields):
    lms_user_id: CoreId
    user_type: UserTypeText


class _ClientFields(_PersonFields):
    """Activity: the address after the tenant's IP handling, and the client parsed from the user agent."""

    ip_address: HashedIPAddress | IPAddress | None = None
    browser: ClientField | None = None
    browser_version: ClientField | None = None
    os: ClientField | None = None
    os_version: ClientField | None = None
    device: ClientField | None = None


class _CourseCore(BaseModel):
    course_id: CoreId


class _ContentCore(_CourseCore):
    content_id: CoreId


class _ProgressCore(_CourseCore):
    content_id: CoreId | None = None
    progress_percentage: CorePercent


class _LogoutCore(BaseModel):
    started_at: StoredTime | None = None
    duration_seconds: CoreSeconds


class _VideoCore(_CourseCore):
    video_id: CoreId
    watch_duration: CoreSeconds
    completion_percentage: CorePercent
    start_time: StoredTime
    end_time: StoredTime | None = None
    buffer_events: CoreCount | None = None
    seek_events: CoreCount | None = None


class _AttemptCore(_CourseCore):
    assessment_id: CoreId
    attempt_id: CoreId
    started_at: StoredTime
    submitted_at: StoredTime | None = None
    time_taken_seconds: CoreSeconds | None = None
    score: CorePoints | None = None
    max_score: Annotated[CorePoints, Field(gt=0)]
    graded_by: CoreId | None = None


class _SubmittedCore(_AttemptCore):
    submitted_at: StoredTime


class _GradedCore(_AttemptCore):
    score: CorePoints


class _EntityCore(BaseModel):
    version: Annotated[int, Field(ge=0, le=MAX_LMS_ID, strict=True)]
    is_deleted: Annotated[bool, Field(strict=True)] = False


class _UserCore(_EntityCore):
    institute_id: CoreId | None = None
    signed_up_at: StoredTime


class _EnrollmentCore(_EntityCore):
    student_id: CoreId
    course_id: CoreId
    enrolled_at: StoredTime
    status: Literal["active", "completed", "dropped"] = "active"
    progress_percentage: CorePercent = Decimal(0)
    completed_at: StoredTime | None = None
    dropped_at: StoredTime | None = None


# Base order: the stamps' class first, so its ``user_id`` (the subject key) wins over the payload's; then
# the core re-declarations, which win over the payload's validated fields.
class InstituteMessage(_LmsServerFields, InstituteUpsert):
    pass


class CourseMessage(_LmsServerFields, CourseUpsert):
    pass


class UserMessage(_PersonFields, _UserCore, UserUpsert):
    pass


class EnrollmentMessage(_LmsServerFields, _EnrollmentCore, EnrollmentUpsert):
    pass


class LoginMessage(_ClientFields, Login):
    pass


class LogoutMessage(_ClientFields, _LogoutCore, Logout):
    pass


class ContentViewedMessage(_ClientFields, _ContentCore, ContentViewed):
    pass


class ProgressUpdatedMessage(_ClientFields, _ProgressCore, ProgressUpdated):
    pass


class CourseCompletedMessage(_ClientFields, _CourseCore, CourseCompleted):
    pass


class VideoWatchedMessage(_ClientFields, _VideoCore, VideoWatched):
    pass


class AssessmentStartedMessage(_ClientFields, _AttemptCore, AssessmentStarted):
    pass


class AssessmentSubmittedMessage(_ClientFields, _SubmittedCore, AssessmentSubmitted):
    pass


class AssessmentGradedMessage(_ClientFields, _GradedCore, AssessmentGraded):
    pass


class OtherActivityMessage(_ClientFields, OtherActivity):
    pass


class TrafficMessage(_LmsServerFields, TrafficSample):
    pass


class StorageMessage(_LmsServerFields, StorageSample):
    pass


class UptimeMessage(_LmsServerFields, UptimeSample):
    pass


EntityMessage = Annotated[
    InstituteMessage | CourseMessage | UserMessage | EnrollmentMessage, Field(discriminator="type")
]
ActivityMessage = Annotated[
    LoginMessage
    | LogoutMessage
    | ContentViewedMessage
    | ProgressUpdatedMessage
    | CourseCompletedMessage
    | VideoWatchedMessage
    | AssessmentStartedMessage
    | AssessmentSubmittedMessage
    | AssessmentGradedMessage
    | OtherActivityMessage,
    Field(discriminator="type"),
]
TelemetryMessage = Annotated[TrafficMessage | StorageMessage | UptimeMessage, Field(discriminator="type")]


class _EntitiesBatch(BaseModel):
    schema_version: Literal[1]
    events: list[EntityMessage]


class _ActivityBatch(BaseModel):
    schema_version: Literal[1]
    events: list[ActivityMessage]


class _TelemetryBatch(BaseModel):
    schema_version: Literal[1]
    events: list[TelemetryMessage]


LMS_BATCHES: dict[Stream, type[BaseModel]] = {
    Stream.LMS_ENTITIES: _EntitiesBatch,
    Stream.LMS_ACTIVITY: _ActivityBatch,
    Stream.LMS_TELEMETRY: _TelemetryBatch,
}


class UnionMessage:
    """One event of a union stream, validated like a model (``model_validate``)."""

    def __init__(self, union: Any) -> None:
        self._adapter: TypeAdapter[Any] = TypeAdapter(union)

    def model_validate(self, event: Any) -> Any:
        return self._adapter.validate_python(event)


LMS_MESSAGES: dict[Stream, UnionMessage] = {
    Stream.LMS_ENTITIES: UnionMessage(EntityMessage),
    Stream.LMS_ACTIVITY: UnionMessage(ActivityMessage),
    Stream.LMS_TELEMETRY: UnionMessage(TelemetryMessage),
}
