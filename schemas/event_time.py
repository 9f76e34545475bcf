"""Which event times the product accepts: one supported range, ISO-8601 text only, and the retention window.

**The range** is ``[EARLIEST, END)`` = 1971-01-01T00:00:00Z (inclusive) to 2090-01-01T00:00:00Z
(exclusive), for every time that becomes a stored value or a bucket: an event's ``timestamp`` (as sent, and
once corrected for clock skew), ``sent_at``, ``received_at`` and a usage summary's ``date``. Why these bounds:

- Rollup buckets are ClickHouse ``Date`` (1970-01-01 to 2149-06-06), computed in the tenant's IANA zone
  (:mod:`schemas.rollups`). Zones run from UTC-12 to UTC+14 and an ISO week starts on Monday, so an
  instant at 1971-01-01T00:00Z has its earliest bucket on 1970-12-28 (the week of 1970-12-31 in UTC-12), a
  valid ``Date``. Allowing 1970 would put the week of 1970-01-01 on 1969-12-29, which cannot be stored: the
  insert fails and the pipeline stalls on that one event. A year of margin covers every zone and grain.
- The latest bound is set by the retention backstop of the raw tables (``schemas/migrations/0012``):
  ``toDateTime(timestamp) + INTERVAL 3661 DAY`` is a ``DateTime`` (ending 2106-02-07T06:28:15Z), which wraps
  around past its end, so an event time after 2096-01 would get a TTL in the 1970s and be deleted silently
  at the next merge. 2090 leaves six years for a longer retention; ``tests/unit/test_event_time.py``
  checks the bound against the backstops (and ``Date``'s end) so raising one cannot break this unnoticed.
  The gateway clamps times more than a day ahead of ``received_at`` anyway; the upper bound refuses
  absurd input (``9999-12-31``) and keeps the clock-skew arithmetic far from ``datetime``'s limits.

**Input form**: times are ISO-8601 strings (a date-time with a zone, or a ``YYYY-MM-DD`` date). Numbers and
digit-only strings are refused: pydantic's lax mode would read ``0`` or ``"1700000000"`` as Unix seconds,
silently turning a unit mistake into an event of 1970. Python ``datetime``/``date`` objects pass (code
building models directly).

**Retention**: an event older than its tenant's raw retention would be stored and then deleted by the next
retention run (``jobs.retention``), so the gateway refuses it instead (:class:`RawRetention`
holds the same cutoffs: an instant ``days`` before ``received_at``; for a usage ``date``, the tenant's local
day of ``received_at`` minus ``days``).

Errors are pydantic custom errors whose ``type`` is one of :data:`OUT_OF_RANGE`, :data:`BEYOND_RETENTION`,
whose message names the bounds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field
from pydantic_core import PydanticCustomError

EARLIEST = datetime(1971, 1, 1, tzinfo=UTC)
"""The earliest supported event time (inclusive)."""
END = datetime(2090, 1, 1, tzinfo=UTC)
"""The first unsupported event time (exclusive)."""
EARLIEST_DAY = EARLIEST.date()
END_DAY = END.date()
"""A usage ``date`` must be in ``[EARLIEST_DAY, END_DAY)``."""

OUT_OF_RANGE = "timestamp_out_of_range"
"""Error type of a time or date outside the supported range."""
BEYOND_RETENTION = "beyond_retention"
"""Error type of an event older than its tenant's raw retention."""
CLAMPED = "timestamp_clamped"
"""Warning type of an event time moved back to ``received_at`` (more than a day in the future)."""


def format_time(value: datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix: the one time format on the wire."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _bound_text(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


RANGE_TEXT = f"from {_bound_text(EARLIEST)} (inclusive) to {_bound_text(END)} (exclusive)"
DAY_RANGE_TEXT = f"from {EARLIEST_DAY.isoformat()} (inclusive) to {END_DAY.isoformat()} (exclusive)"

_ISO_DATE_START = re.compile(r"\d{4}-\d{2}-\d{2}")


def time_in_range(value: datetime) -> bool:
    return EARLIEST <= value < END


def day_in_range(value: date) -> bool:
    return EARLIEST_DAY <= value < END_DAY


def out_of_range_reason(what: str, value: datetime | date) -> str:
    """The message of an :data:`OUT_OF_RANGE` error about ``value`` (``what``: how it was obtained)."""
    if isinstance(value, datetime):
        return f"{what} {format_time(value)} is outside the supported range, {RANGE_TEXT}"
    return f"{what} {value.isoformat()} is outside the supported range, {DAY_RANGE_TEXT}"


def _custom(kind: str, reason: str) -> PydanticCustomError:
    return PydanticCustomError(kind, "{reason}", {"reason": reason})


def _iso_datetime_text(value: Any) -> Any:
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE_START.match(value)):
        return value
    raise _custom(
        "datetime_type",
        "must be an ISO-8601 date-time string with a time zone, e.g. 2026-01-31T12:00:00Z "
        "(numbers are not accepted)",
    )


def _iso_date_text(value: Any) -> Any:
    if (isinstance(value, date) and not isinstance(value, datetime)) or (
        isinstance(value, str) and _ISO_DATE_START.match(value)
    ):
        return value
    raise _custom("date_type", "must be an ISO-8601 date string, e.g. 2026-01-31 (numbers are not accepted)")


def _check_time(value: datetime) -> datetime:
    if EARLIEST <= value < END:
        return value
    raise _custom(OUT_OF_RANGE, out_of_range_reason("time", value))


def _check_day(value: date) -> date:
    if EARLIEST_DAY <= value < END_DAY:
        return value
    raise _custom(OUT_OF_RANGE, out_of_range_reason("date", value))


IsoDateTime = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_datetime_text),
    Field(description="ISO-8601 date-time with a time zone"),
]
"""A date-time given as ISO-8601 text with a zone (no range: informational times kept inside JSON)."""
EventTime = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_datetime_text),
    AfterValidator(_check_time),
    Field(description=f"ISO-8601 date-time with a time zone, {RANGE_TEXT}"),
]
"""A time that is stored and bucketed: ISO-8601 text with a zone, within the supported range."""
EventDate = Annotated[
    date,
    BeforeValidator(_iso_date_text),
    AfterValidator(_check_day),
    Field(description=f"ISO-8601 date (YYYY-MM-DD), {DAY_RANGE_TEXT}"),
]
"""A calendar day that is stored and bucketed: ``YYYY-MM-DD`` within the supported range."""

StoredTime = Annotated[AwareDatetime, Field(ge=EARLIEST, lt=END)]
"""A time of a Kafka message (``schemas.messages``): the same range, checked by pydantic-core's own
constraints (error types ``greater_than_equal``/``less_than``) because the workers validate every event of
every message and a Python validator per field would cost more than the rest of the decode. Producers write
ISO text (``format_time``); the text-only rule is the gateway's."""
StoredDate = Annotated[date, Field(ge=EARLIEST_DAY, lt=END_DAY)]
"""A usage ``date`` of a Kafka message: the same range, checked the same way as :data:`StoredTime`."""


# ---- retention ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawRetention:
    """A tenant's raw retention as the retention job applies it (
    ``jobs.retention_bounds.table_bound``): rows before these cutoffs are deleted by its next run."""

    days: int
    zone: ZoneInfo

    def oldest_time(self, received_at: datetime) -> datetime:
        """The oldest event time kept (inclusive): ``days`` before ``received_at``."""
        return received_at.astimezone(UTC) - timedelta(days=self.days)

    def oldest_day(self, received_at: datetime) -> date:
        """The oldest usage ``date`` kept (inclusive): the tenant's local day of ``received_at`` minus
        ``days``."""
        return received_at.astimezone(self.zone).date() - timedelta(days=self.days)

    def reason(self, oldest: datetime | date) -> str:
        """The message of a :data:`BEYOND_RETENTION` error."""
        shown = format_time(oldest) if isinstance(oldest, datetime) else oldest.isoformat()
        return (
            f"older than the tenant's raw retention of {self.days} days: the oldest accepted is {shown}; "
            "older events would be deleted, so they are not accepted"
        )


__all__ = [
    "BEYOND_RETENTION",
    "CLAMPED",
    "DAY_RANGE_TEXT",
    "EARLIEST",
    "EARLIEST_DAY",
    "END",
    "END_DAY",
    "OUT_OF_RANGE",
    "RANGE_TEXT",
    "EventDate",
    "EventTime",
    "IsoDateTime",
    "RawRetention",
    "StoredDate",
    "StoredTime",
    "day_in_range",
    "format_time",
    "out_of_range_reason",
    "time_in_range",
]
