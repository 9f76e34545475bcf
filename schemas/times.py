"""Times as the tables keep them: ``DateTime64(3, 'UTC')``, read back naive (chDB) or aware (some servers).

One home for the conversions every module storing small state rows needs (jobs, keys, audit entries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.messages import format_time


def as_utc(value: datetime) -> datetime:
    """A value read from a ``DateTime64(3, 'UTC')`` column, made aware in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def stored_now() -> datetime:
    """Now, to the millisecond the tables keep, so a value written equals the value read back."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def later_than(previous: datetime) -> datetime:
    """Now, but strictly later than ``previous``: the next version of a row must win ``FINAL`` even when
    the clocks of the processes that wrote them disagree."""
    return max(stored_now(), as_utc(previous) + timedelta(milliseconds=1))


def stored_time_text(value: datetime) -> str:
    """A stored time in the wire format (``format_time``: UTC, milliseconds, ``Z``)."""
    return format_time(as_utc(value))
