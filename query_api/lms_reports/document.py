"""A generated report before it is written in a format: titled sections of typed columns and rows, each
section optionally drawn as a chart. Every writer (:mod:`query_api.lms_reports.writers`) renders the same
document, so a number is the same in the JSON, the CSV, the workbook and the PDF.

Rows are an iterable, not a list: a section may stream its rows from the store, and writers consume them
once, in order, without holding them all (large outputs are written in chunks).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What a column holds, so that a workbook types its cells and a CSV formats them."""

    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"


Cell = str | int | Decimal | float | date | datetime | bool | None


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind


@dataclass(frozen=True, slots=True)
class Chart:
    """A section drawn as a chart: ``x`` one of its columns, ``series`` numeric columns plotted against
    it (``line`` for a time series, ``bar`` for categories)."""

    kind: str
    x: str
    series: tuple[str, ...]
    title: str = ""


@dataclass(slots=True)
class Section:
    title: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Cell]]
    chart: Chart | None = None
    note: str = ""


@dataclass(slots=True)
class ReportDocument:
    """One generated report: what, whose, over which local days in which zone, and its sections."""

    title: str
    report_type: str
    tenant_id: str
    zone: str
    first: date
    last: date
    generated_at: datetime
    parameters: dict[str, Any] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)


_KINDS: dict[Any, Kind] = {
    int: Kind.INTEGER,
    Decimal: Kind.DECIMAL,
    float: Kind.DECIMAL,
    str: Kind.TEXT,
    date: Kind.DATE,
    datetime: Kind.DATETIME,
    bool: Kind.BOOLEAN,
}


def _kind_of(annotation: Any) -> Kind | None:
    """The column kind of a field's annotation (``int``, ``Decimal | None``, ``Percent``, ...); ``None``
    for lists, mappings and nested records, which a table does not show."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kind_of(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        kinds = {_kind_of(arg) for arg in typing.get_args(annotation) if arg is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    return _KINDS.get(annotation)


def record_columns(record_type: type[Any], exclude: Sequence[str] = ()) -> list[Column]:
    """The scalar fields of a dataclass as columns, in declaration order."""
    hints = typing.get_type_hints(record_type, include_extras=True)
    columns = []
    for item in dataclasses.fields(record_type):
        kind = _kind_of(hints[item.name])
        if kind is not None and item.name not in exclude:
            columns.append(Column(item.name, kind))
    return columns


def record_section(
    title: str,
    record_type: type[Any],
    records: Iterable[Any],
    chart: Chart | None = None,
    exclude: Sequence[str] = (),
    note: str = "",
) -> Section:
    """A section of one row per dataclass record, its scalar fields as columns."""
    columns = record_columns(record_type, exclude)
    names = [column.name for column in columns]
    rows = ([getattr(record, name) for name in names] for record in records)
    return Section(title, columns, rows, chart, note)
