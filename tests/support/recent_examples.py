"""The example payloads of ``schemas/examples/`` moved to recent dates, for tests that post them to a gateway.

The examples carry fixed dates (``valid_seed_daily_usage.json``: 2025-09-18), and the gateway refuses an
event older than its tenant's raw retention (``BEYOND_RETENTION``, :mod:`schemas.event_time`), so a test
posting them as they are starts failing on a calendar date. :func:`recent` shifts every date and date-time
of a body by one whole number of days so that its own time lands :data:`DAYS_AGO` days before today: the
time of day, the UTC offset and the spacing between its times (``sent_at`` after ``timestamp``, a feature's
``last_used`` on the summary's ``date``) stay as written. The example files stay as they are (the unit
tests of transforms and stamping assert on their exact dates).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas.topics import Stream
from tests.support.examples import all_examples

DAYS_AGO = 2
"""How many days before today (UTC) a body's own time is moved to: in the past in every UTC offset
(-12:00 to +14:00), and far inside the shortest raw retention a tenant may set (30 days)."""

_ISO = re.compile(r"(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}.*)?")


def _day(value: Any) -> date | None:
    """The calendar day of an ISO date or date-time string as written (in its own offset), else ``None``."""
    if not isinstance(value, str) or not (match := _ISO.fullmatch(value)):
        return None
    try:
        if match.group(2) is None:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value).date()
    except ValueError:
        return None


def _shift(value: Any, days: timedelta) -> Any:
    if isinstance(value, dict):
        return {key: _shift(item, days) for key, item in value.items()}
    if isinstance(value, list):
        return [_shift(item, days) for item in value]
    day = _day(value)
    if day is None:
        return value
    return (day + days).isoformat() + value[10:]  # the rest (time, fraction, offset) as written


def recent(body: Any, today: date | None = None) -> Any:
    """A copy of ``body`` whose own time (``timestamp``, else a usage ``date``) is :data:`DAYS_AGO` days
    before ``today`` (default: today in UTC), every other date and date-time moved by the same days.
    A body without a time of its own is returned as a copy unchanged (the gateway stamps it with the time
    of receipt)."""
    anchor = _day(body.get("timestamp")) or _day(body.get("date"))
    if anchor is None:
        return _shift(body, timedelta(0))
    today = today or datetime.now(UTC).date()
    return _shift(body, today - timedelta(days=DAYS_AGO) - anchor)


def recent_examples(kind: str = "valid", today: date | None = None) -> list[tuple[Stream, str, Any]]:
    """(stream, file name, body) of every ``<kind>_*.json`` example, each moved by :func:`recent`."""
    return [(stream, name, recent(body, today)) for stream, name, body in all_examples(kind)]
