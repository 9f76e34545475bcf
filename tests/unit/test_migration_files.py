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
