"""Which stored tables hold people's data, by subject key (``user_id``): what a GDPR export reads and an
erasure deletes. Declarations only, no I/O.

A person is a ``user_id`` of a tenant: a product user's id, or an LMS subject key (``student:17``,
``teacher:4``; ADR 0015). Rollups are derived from the raw rows and are not exported (they hold nothing the
raw rows do not), but erasure deletes a person's rows from them (:mod:`jobs.erasure`).
"""

from __future__ import annotations

from schemas.lms_rows import LMS_RAW_TABLES, LMS_STATE_TABLES, LMS_VIDEO_SESSIONS
from schemas.rollups import ROLLUPS, Rollup
from schemas.rows import PRODUCT_RAW_TABLES
from schemas.topics import Stream

PERSONAL_RAW_TABLES: tuple[str, ...] = (
    *PRODUCT_RAW_TABLES.values(),
    LMS_RAW_TABLES[Stream.LMS_ACTIVITY],
    LMS_RAW_TABLES[Stream.LMS_ENTITIES],
)
"""Raw tables whose ``user_id`` may be a person: every product table; LMS activity (the subject key of the
person acting) and entity upserts (a user's own upserts and a student's enrollments carry the person's
subject key; institutes and courses carry ``institute:<id>``/``course:<id>``, which no person has). LMS
telemetry is keyed by its reporting source (``source:<name>``): no person in it."""

PERSONAL_STATE_TABLES: tuple[str, ...] = (LMS_STATE_TABLES["user"], LMS_STATE_TABLES["enrollment"])
"""LMS current-state tables keyed by a person's subject key (a user's row, a student's enrollments): the
newest version of what the raw upserts hold, kept without retention, so they outlive those upserts."""

PER_USER_ROLLUP_TABLES: tuple[str, ...] = tuple(
    item.table for item in ROLLUPS if item.personal and "user_id" in item.dimensions
)
"""Rollup tables keyed by user: a person's rows are theirs alone, nobody else's bucket holds them."""


PER_USER_COPY_TABLES: tuple[str, ...] = (LMS_VIDEO_SESSIONS,)
"""Raw rows copied in another order for reads (a materialized view writes them): derived, like the rollups,
so erasure deletes a person's rows from them with the rollups' and exports leave them out (the raw table
holds the same rows)."""


def tenant_wide_rollups() -> list[Rollup]:
    """Rollups that aggregate people together (personal, without a ``user_id`` dimension): an erasure must
    recompute them. Rollups without people in them (``Rollup.personal`` false: LMS platform telemetry) are
    neither deleted from nor recomputed, whatever their dimensions."""
    return [item for item in ROLLUPS if item.personal and "user_id" not in item.dimensions]
