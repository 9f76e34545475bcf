"""Declared bounds of the read routes' query parameters, so a bad value answers 400 in the envelope (never
a 5xx from the store) and the OpenAPI document shows each parameter's exact range.

Each declaration is the single rule: FastAPI validates the declared schema (400 ``VALIDATION_ERROR``,
``details[].field`` naming the parameter), and what the schema allows is what the handlers accept.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator, WithJsonSchema

from query_api.readers.common import MAX_PAGE_SIZE

MAX_PAGE = 100_000
"""Deepest page of a listing: deeper pages cost a scan of every row before them; narrow the filters."""

FIRST_YEAR, LAST_YEAR = 1970, 2099
"""Dates a read may name: days the store can bucket (ClickHouse ``Date`` starts on 1970-01-01), up to a
bound well inside what it can hold. Anything outside is a client mistake (``0001-01-01``), refused."""

_YEAR = r"(19[7-9][0-9]|20[0-9][0-9])"
_DAY = _YEAR + r"-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_TIME = r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
DAY_PATTERN = f"^{_DAY}$"
INSTANT_PATTERN = f"^{_DAY}{_TIME}$"
_DAY_ONLY = re.compile(DAY_PATTERN)
_DAY_OR_INSTANT = re.compile(f"^{_DAY}({_TIME})?$")
_RANGE = f"{FIRST_YEAR}-01-01 to {LAST_YEAR}-12-31"


def _calendar_day(value: str) -> str:
    """A day of the supported years that is also on the calendar (``2023-02-30`` is not)."""
    if not _DAY_ONLY.match(value):
        raise ValueError(f"expected a date (YYYY-MM-DD), {_RANGE}")
    date.fromisoformat(value)
    return value


def _day_or_instant(value: str) -> str:
    if not _DAY_OR_INSTANT.match(value):
        raise ValueError(f"expected a date (YYYY-MM-DD) or an RFC 3339 date-time, {_RANGE}")
    if len(value) == 10:
        date.fromisoformat(value)
    else:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


Day = Annotated[
    str,
    AfterValidator(_calendar_day),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DAY_PATTERN}),
]
"""A calendar day ``YYYY-MM-DD`` between :data:`FIRST_YEAR` and :data:`LAST_YEAR`."""

DayOrInstant = Annotated[
    str,
    AfterValidator(_day_or_instant),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date", "pattern": DAY_PATTERN},
                {"type": "string", "format": "date-time", "pattern": INSTANT_PATTERN},
            ]
        }
    ),
]
"""A day (the tenant's local day) or an RFC 3339 instant with its offset, in the same years."""

PageQuery = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description=f"page number, 1 to {MAX_PAGE:,}", examples=[1])
]
LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"results per page, 1 to {MAX_PAGE_SIZE:,}")
]
StartDay = Annotated[
    Day | None, Query(description=f"custom: first day (YYYY-MM-DD, {_RANGE}); required with custom")
]
EndDay = Annotated[
    Day | None,
    Query(description=f"custom: last day (YYYY-MM-DD, {_RANGE}), inclusive; required with custom"),
]
StartBound = Annotated[
    DayOrInstant | None,
    Query(description=f"from this day (tenant's zone) or RFC 3339 instant, {_RANGE}"),
]
EndBound = Annotated[
    DayOrInstant | None,
    Query(
        description=f"through this day (inclusive, tenant's zone) or until this RFC 3339 instant, {_RANGE}"
    ),
]
