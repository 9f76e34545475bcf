"""Column-oriented rows of one ClickHouse table: what the pure transforms (:mod:`schemas.rows`,
:mod:`schemas.lms_rows`) produce and the store inserts. Its own module so both transforms share it without
importing each other."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import orjson

ZoneFor = Callable[[str], ZoneInfo]
"""tenant → its time zone (buckets are the tenant's local days)."""


@dataclass(frozen=True)
class TableBatch:
    """Column-oriented rows for one table."""

    table: str
    columns: list[str]
    data: list[list[Any]]

    @property
    def row_count(self) -> int:
        return len(self.data[0]) if self.data else 0

    @classmethod
    def from_rows(cls, table: str, columns: list[str], rows: Sequence[tuple[Any, ...]]) -> TableBatch:
        data = [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in columns]
        return cls(table, columns, data)


def json_text(value: Any) -> str:
    """JSON text of a stored JSON column; ``''`` for an absent value."""
    return "" if value is None else orjson.dumps(value).decode()
