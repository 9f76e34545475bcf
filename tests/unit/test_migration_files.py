"""Static checks of the shipped migrations: numbering, idempotency, and enums matching the HTTP models."""

import re
from enum import StrEnum

import pytest

from plumbing.migrate import load_migrations
from schemas.enums import (
    ActivityCategory,
    ActivityType,
    EventCategory,
    EventSource,
    EventType,
    Platform,
    Severity,
    clickhouse_enum8,
)
from schemas.lms_rollups import LMS_FEEDS, LMS_ROLLUPS
from schemas.rollup_model import feed_ddl, table_ddl, view_ddl

MIGRATIONS = load_migrations()


def test_versions_are_contiguous_from_one() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


@pytest.mark.parametrize("migration", MIGRATIONS, ids=lambda m: m.name)
def test_every_statement_is_idempotent(migration) -> None:  # type: ignore[no-untyped-def]
    for statement in migration.statements:
        head = " ".join(statement.split()[:6]).upper()
        if head.startswith("CREATE"):
            assert "IF NOT EXISTS" in head, statement[:80]
        if head.startswith("DROP"):
            assert "IF EXISTS" in head, statement[:80]
        if head.startswith("INSERT"):  # a re-run's copy is dropped as a duplicate of the first one
            assert "insert_deduplication_token" in statement, statement[:80]
        if head.startswith("ALTER"):  # MODIFY TTL / QUERY have no IF EXISTS: setting either again is a no-op
            upper = statement.upper()
            assert re.search(r"\bMODIFY (TTL|QUERY)\b", upper) or re.search(
                r"\b(ADD|DROP|MODIFY)\b.*\bIF (NOT )?EXISTS\b", upper
            ), statement[:80]


def test_split_keeps_one_statement_per_raw_table() -> None:
    assert [len(m.statements) for m in MIGRATIONS[:4]] == [1, 1, 1, 1]


@pytest.mark.parametrize(
    ("table", "column", "enum"),
    [
        ("analytics_events", "event_type", EventType),
        ("analytics_events", "event_category", EventCategory),
        ("analytics_events", "source", EventSource),
        ("analytics_events", "platform", Platform),
        ("activity_logs", "activity_type", ActivityType),
        ("activity_logs", "activity_category", ActivityCategory),
        ("activity_logs", "severity", Severity),
    ],
)
def test_enum_columns_declare_exactly_the_model_enums(table: str, column: str, enum: type[StrEnum]) -> None:
    sql = next(m.sql for m in MIGRATIONS if re.search(rf"CREATE TABLE IF NOT EXISTS {table}\b", m.sql))
    declared = re.search(rf"^\s*{column}\s+(Enum8\(.*\))\s*,\s*$", sql, flags=re.MULTILINE)
    assert declared is not None, f"{table}.{column} not found"
    assert declared.group(1) == clickhouse_enum8(enum)


def test_the_lms_migration_creates_the_lms_feeds_and_rollups_as_declared() -> None:
    """0020 holds the DDL the LMS declarations generate (tests/integration/test_migrations.py compares the
    migrated schema with the declarations on a real ClickHouse)."""
    (lms,) = [m for m in MIGRATIONS if m.name == "lms_streams"]
    statements = {" ".join(s.split()) for s in lms.statements}
    declared = [feed_ddl(feed) for feed in LMS_FEEDS]
    declared += [ddl for item in LMS_ROLLUPS for ddl in (table_ddl(item), view_ddl(item))]
    assert len(declared) == 5 + 2 * 7
    for ddl in declared:
        assert " ".join(ddl.split()) in statements, ddl[:80]
