"""The tables whose rows expire, which retention setting governs each set of their rows, and the table TTL
backstop the migrations write (0012, 0015 and, for the learning platform's tables, 0020): declarations
only, no I/O.

Retained: every raw table (the product's and the LMS's, by event time) and every rollup (by bucket and
grain). The LMS current-state tables (``schemas.lms_rows.LMS_STATE_TABLES``) are not: they hold the newest
version of each entity, not events of a time, so they have no retention (erasure deletes a person's rows).

The backstop is a table TTL at the longest retention a tenant may set, so storage stays bounded even if the
retention job (:mod:`jobs.retention`) never runs; a unit test compares the migrations with
:func:`backstop_statements`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from annotated_types import Le

from schemas.lms_rows import LMS_RAW_TABLES, LMS_VIDEO_SESSIONS
from schemas.rollups import ROLLUPS, Grain
from schemas.tenant_config import Retention
from schemas.topics import LMS_STREAMS


class Tier(StrEnum):
    """Which of a tenant's retention settings governs a set of rows (the value names the ``Retention``
    field, the ``/analytics/config`` API field)."""

    RAW = "raw_days"
    DAILY = "daily_rollup_days"
    WEEKLY_MONTHLY = "weekly_monthly_rollup_days"


def tier_of(grain: Grain | None) -> Tier:
    """The setting of a raw table's rows (``None``) or of a rollup grain's rows."""
    if grain is None:
        return Tier.RAW
    return Tier.DAILY if grain is Grain.DAY else Tier.WEEKLY_MONTHLY


def max_retention_days(tier: Tier) -> int:
    """The longest retention a tenant may set for ``tier``: the ``le`` bound validated in ``Retention``.
    The backstop TTLs are derived from it, so raising that bound needs a new TTL migration (a unit test
    compares the migrations with :meth:`RetainedTable.backstop_ttl`)."""
    bounds = [m.le for m in Retention.model_fields[tier.value].metadata if isinstance(m, Le)]
    if len(bounds) != 1 or not isinstance(bounds[0], int):
        raise RuntimeError(f"Retention.{tier.value} must declare exactly one integer upper bound (le=...)")
    return bounds[0]


def choose_by_grain(grains: tuple[Grain, ...], values: list[str]) -> str:
    """SQL choosing each row's value by its ``grain`` column (``values`` in the order of ``grains``): the last
    grain's is the default, as a table stores no other; one grain needs no choice."""
    if len(values) != len(grains) or not values:
        raise ValueError("one value per grain")
    if len(values) == 1:
        return values[0]
    branches = [f"grain = '{g.value}', {value}" for g, value in zip(grains[:-1], values[:-1], strict=True)]
    return f"multiIf({', '.join(branches)}, {values[-1]})"


@dataclass(frozen=True)
class RetainedTable:
    """A table whose rows expire: its time column, and for a rollup the grains it stores (each grain's rows
    follow their own setting). Every retained table is partitioned by month of its time column."""

    name: str
    column: str
    is_datetime: bool
    """``DateTime64`` event time (compared as an instant) or ``Date`` (compared as the tenant's local day)."""
    grains: tuple[Grain, ...] = ()
    """Rollups: the grains in its ``grain`` column (``column`` is the bucket start); empty for raw tables."""

    @property
    def slices(self) -> tuple[Grain | None, ...]:
        """The row sets with a bound of their own: each stored grain, or a raw table's rows (``None``)."""
        return self.grains or (None,)

    @property
    def partition_key(self) -> str:
        return f"toYYYYMM({self.column})"

    def backstop_grace_days(self, grain: Grain | None = None) -> int:
        """Days the backstop waits beyond the longest retention so it never removes a row the job would keep
        for a tenant at that maximum: one day for event times (``toDateTime`` drops the
        milliseconds), two for dates (a tenant's local day runs up to 14 h ahead of or behind UTC), plus the
        bucket's length for weekly and monthly rollups (kept until their last day expires)."""
        if self.is_datetime:
            return 1
        return 2 + {None: 0, Grain.DAY: 0, Grain.WEEK: 7, Grain.MONTH: 31}[grain]

    def backstop_days(self, grain: Grain | None = None) -> int:
        """Age in days at which the backstop removes rows of ``grain`` (``None``: a raw table's rows)."""
        return max_retention_days(tier_of(grain)) + self.backstop_grace_days(grain)

    def backstop_ttl(self) -> str:
        """The table's TTL expression (as written in the migrations): one per table, so a rollup's picks
        each row's days by its grain."""
        moment = f"toDateTime({self.column})" if self.is_datetime else self.column
        days = [str(self.backstop_days(grain)) for grain in self.slices]
        if len(days) == 1:
            return f"{moment} + INTERVAL {days[0]} DAY"
        return f"{moment} + toIntervalDay({choose_by_grain(self.grains, days)})"


RAW_RETAINED = (
    RetainedTable("analytics_events", "timestamp", is_datetime=True),
    RetainedTable("performance_metrics", "timestamp", is_datetime=True),
    RetainedTable("usage_metrics", "date", is_datetime=False),
    RetainedTable("activity_logs", "timestamp", is_datetime=True),
    *(RetainedTable(LMS_RAW_TABLES[stream], "timestamp", is_datetime=True) for stream in LMS_STREAMS),
    RetainedTable(LMS_VIDEO_SESSIONS, "timestamp", is_datetime=True),
)
"""Raw tables: the product's, then the LMS's (by ``timestamp``: an activity's or sample's time, an entity
version's recorded time; expiring old versions leaves the current state alone), and the copy of
``lms_activity``'s watch sessions sorted by course, which expires with them."""
ROLLUP_RETAINED = tuple(
    RetainedTable(rollup.table, "bucket", is_datetime=False, grains=rollup.grains) for rollup in ROLLUPS
)
RETAINED_TABLES: tuple[RetainedTable, ...] = RAW_RETAINED + ROLLUP_RETAINED


def backstop_statements(tables: Iterable[RetainedTable] = RETAINED_TABLES) -> list[str]:
    """The TTL statements of the migrations, one per table: 0012 wrote the product's raw tables' (and the
    per-grain rollup tables' of the old layout), 0015 the product's rollup tables', 0020 the LMS raw and
    rollup tables'."""
    return [f"ALTER TABLE {t.name} MODIFY TTL {t.backstop_ttl()}" for t in tables]
