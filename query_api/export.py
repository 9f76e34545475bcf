"""The GDPR export of one user (``GET /analytics/privacy/users/{user_id}/export``): every column of every
table of facts about people (:data:`EXPORT_TABLES`), read in chunks and encoded as they arrive, so an
export of any size holds one chunk in memory and no pooled ClickHouse client is kept between chunks.

One export answers for a subject whichever product holds them: the product's raw tables, then the learning
platform's raw tables of people and current-state tables of people (an LMS subject key such as
``student:17`` is the ``user_id`` there). A product user's export gains only empty LMS tables, listed after
the product's (CSV: their columns after the product's).

Chunks are read in the tables' own order (their sorting key without tenant and user, which the chunk fixes)
from where the last one ended (keyset pagination), with ``FINAL`` so a redelivered row appears once (and a
current-state table gives its newest version). Columns and keys are read from ``system.columns`` and
``system.tables``, so a column added by a later migration is exported without a change here.

Encodings (:class:`JsonExport`, :class:`CsvExport`) are pure: bytes in, bytes out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

import orjson

from privacy.personal_data import PERSONAL_RAW_TABLES, PERSONAL_STATE_TABLES
from query_api.store import QueryStore
from schemas.times import stored_time_text

EXPORT_TABLES: tuple[str, ...] = (*PERSONAL_RAW_TABLES, *PERSONAL_STATE_TABLES)
"""Every table holding people's facts (rollups are derived from them). The LMS current-state tables are
exported as well: they outlive the raw upserts' retention."""
CHUNK_ROWS = 5_000


@dataclass(frozen=True)
class TableShape:
    name: str
    columns: list[str]
    types: dict[str, str]
    key: list[str]
    """Sorting-key columns but ``tenant_id`` and ``user_id`` (fixed within an export): the order and the
    keyset of the chunks, unique per row after ``FINAL``."""


async def table_shapes(store: QueryStore, tables: Sequence[str] = EXPORT_TABLES) -> list[TableShape]:
    columns = await store.rows(
        "SELECT table, name, type FROM system.columns WHERE database = currentDatabase() "
        "AND table IN {tables:Array(String)} ORDER BY table, position",
        {"tables": list(tables)},
    )
    keys = await store.rows(
        "SELECT name, sorting_key FROM system.tables WHERE database = currentDatabase() "
        "AND name IN {tables:Array(String)}",
        {"tables": list(tables)},
    )
    sorting = {str(name): [part.strip() for part in str(key).split(",")] for name, key in keys}
    shapes = []
    for table in tables:
        names = [str(name) for t, name, _ in columns if t == table]
        types = {str(name): str(kind) for t, name, kind in columns if t == table}
        key = sorting[table]
        if not set(key) <= set(names):
            raise ValueError(f"{table} is not ordered by columns: {key}")
        shapes.append(TableShape(table, names, types, [c for c in key if c not in ("tenant_id", "user_id")]))
    return shapes


def chunk_sql(shape: TableShape, after: bool) -> str:
    """One chunk of the user's rows, in key order, after the key of the previous chunk's last row. A table
    keyed by tenant and user alone (``lms_users``) holds one row per user after ``FINAL``: no order."""
    key = ", ".join(shape.key)
    where = "tenant_id = {tenant:String} AND user_id = {user:String}"
    if after:
        bound = ", ".join(f"{{k{i}:{shape.types[c]}}}" for i, c in enumerate(shape.key))
        where += f" AND ({key}) > ({bound})"
    order = f"ORDER BY {key} " if key else ""
    columns = ", ".join(shape.columns)
    return f"SELECT {columns} FROM {shape.name} FINAL WHERE {where} {order}LIMIT {{limit:UInt32}}"


async def table_chunks(
    store: QueryStore, shape: TableShape, tenant_id: str, user_id: str, chunk_rows: int = CHUNK_ROWS
) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """The user's rows of one table, ``chunk_rows`` at a time."""
    positions = [shape.columns.index(c) for c in shape.key]
    params: dict[str, Any] = {"tenant": tenant_id, "user": user_id, "limit": chunk_rows}
    sql = chunk_sql(shape, after=False)
    while True:
        rows = await store.rows(sql, params)
        if rows:
            yield rows
        if len(rows) < chunk_rows or not shape.key:
            return
        last = rows[-1]
        params.update({f"k{i}": last[p] for i, p in enumerate(positions)})
        sql = chunk_sql(shape, after=True)


# ---- encodings ----------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A stored value as JSON: times in ISO-8601 UTC (``Z``), UUIDs as text, decimals as numbers."""
    if isinstance(value, datetime):
        return stored_time_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


class ExportEncoding(Protocol):
    media_type: str
    extension: str

    def begin(self) -> bytes: ...

    def table(self, name: str) -> bytes: ...

    def rows(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes: ...

    def end(self, metadata: dict[str, Any]) -> bytes: ...


class JsonExport:
    """The seed's envelope, streamed: ``{"success": true, "data": {"user_id", "tenant_id", "exported_at",
    "tables": {"<table>": [{column: value}, ...], ...}}, "metadata": {...}}`` (metadata last: its
    ``processing_time`` covers the whole export). Every table is present, ``[]`` when the user has none."""

    media_type = "application/json"
    extension = "json"

    def __init__(self, head: dict[str, Any]) -> None:
        self._head = head
        self._tables = 0
        self._rows_in_table = 0

    def begin(self) -> bytes:
        head = orjson.dumps({"success": True, "data": self._head})
        return head[: -len(b"}}")] + b',"tables":{'

    def table(self, name: str) -> bytes:
        opening = b"," if self._tables else b""
        closing = b"]" if self._tables else b""
        self._tables += 1
        self._rows_in_table = 0
        return closing + opening + orjson.dumps(name) + b":["

    def rows(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
        if not rows:
            return b""
        lead = b"," if self._rows_in_table else b""
        self._rows_in_table += len(rows)
        return lead + b",".join(
            orjson.dumps({c: plain(v) for c, v in zip(columns, row, strict=True)}) for row in rows
        )

    def end(self, metadata: dict[str, Any]) -> bytes:
        return (b"]" if self._tables else b"") + b'}},"metadata":' + orjson.dumps(metadata) + b"}"


class CsvExport:
    """One CSV: a ``table`` column, then the union of every table's columns (in table order); a row fills
    its own table's columns, the others stay empty. ``NULL`` is empty too, arrays are JSON text, times
    ISO-8601 UTC. (The JSON export tells ``NULL`` from ``""``.)"""

    media_type = "text/csv; charset=utf-8"
    extension = "csv"

    def __init__(self, tables: Sequence[tuple[str, Sequence[str]]]) -> None:
        self.header = ["table", *dict.fromkeys(c for _, columns in tables for c in columns)]
        self._position = {name: i for i, name in enumerate(self.header)}
        self._table = ""

    def _lines(self, rows: Sequence[Sequence[Any]]) -> bytes:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(rows)
        return out.getvalue().encode()

    def begin(self) -> bytes:
        return self._lines([self.header])

    def table(self, name: str) -> bytes:
        self._table = name
        return b""

    def rows(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
        places = [self._position[c] for c in columns]
        lines = []
        for row in rows:
            line = [""] * len(self.header)
            line[0] = self._table
            for place, value in zip(places, row, strict=True):
                line[place] = _csv_cell(value)
            lines.append(line)
        return self._lines(lines)

    def end(self, metadata: dict[str, Any]) -> bytes:
        return b""


def _csv_cell(value: Any) -> str:
    cell = plain(value)
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, list | dict):
        return inert_text(orjson.dumps(cell).decode())
    return inert_text(str(cell))


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert_text(text: str) -> str:
    """A cell a spreadsheet would run as a formula gets a leading ``'`` (OWASP's CSV-injection advice):
    exported values come from clients, and the export is opened by an administrator."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text
