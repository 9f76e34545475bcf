"""A :class:`~query_api.lms_reports.document.ReportDocument` written as a file in one of the seed's
``ExportFormat``s, each by a well-kept library: JSON (orjson, streamed), CSV (the ``csv`` module, RFC 4180,
UTF-8), Excel (XlsxWriter in constant-memory mode: rows go to disk as they are written) and PDF (ReportLab
with matplotlib charts).

Rows are consumed once and written in chunks, except in the PDF, which lays out at most
:data:`PDF_MAX_ROWS` rows per section (a printed table of more helps nobody; the other formats carry them
all, and the PDF says how many it left out).
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from query_api.export import inert_text
from query_api.lms_reports.document import Cell, Column, Kind, ReportDocument, Section

CHUNK_ROWS = 1000
"""Rows written (and progress reported) at a time."""
PDF_MAX_ROWS = 500
"""Rows of one section laid out in a PDF."""

Progress = Callable[[int], None]
"""Told the number of rows written so far (for a job's progress)."""


class ExportFormat(StrEnum):
    """The seed's ``ExportFormat``."""

    PDF = "PDF"
    EXCEL = "EXCEL"
    CSV = "CSV"
    JSON = "JSON"


EXTENSIONS = {
    ExportFormat.PDF: "pdf",
    ExportFormat.EXCEL: "xlsx",
    ExportFormat.CSV: "csv",
    ExportFormat.JSON: "json",
}
MEDIA_TYPES = {
    ExportFormat.PDF: "application/pdf",
    ExportFormat.EXCEL: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.JSON: "application/json",
}


def write_document(
    document: ReportDocument, fmt: ExportFormat, path: Path, progress: Progress | None = None
) -> None:
    """Write ``document`` to ``path`` as ``fmt``."""
    report = progress or (lambda _rows: None)
    if fmt is ExportFormat.JSON:
        _write_json(document, path, report)
    elif fmt is ExportFormat.CSV:
        _write_csv(document, path, report)
    elif fmt is ExportFormat.EXCEL:
        _write_excel(document, path, report)
    else:
        from query_api.lms_reports.pdf import write_pdf  # matplotlib and ReportLab load only for PDFs

        write_pdf(document, path, report)


def chunks(rows: Iterable[Sequence[Cell]]) -> Iterator[list[Sequence[Cell]]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, CHUNK_ROWS)):
        yield chunk


def heading(document: ReportDocument) -> dict[str, Any]:
    """What every format states first: the report, whose, which days in which zone, when, with what."""
    return {
        "title": document.title,
        "report_type": document.report_type,
        "tenant_id": document.tenant_id,
        "period_start": document.first.isoformat(),
        "period_end": document.last.isoformat(),
        "timezone": document.zone,
        "generated_at": document.generated_at.isoformat(),
        "parameters": document.parameters,
    }


# ---- JSON -------------------------------------------------------------------------------------------


def _json_cell(value: Cell) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _write_json(document: ReportDocument, path: Path, progress: Progress) -> None:
    """``{<heading>, "sections": [{"title", "columns": [{name, kind}], "rows": [[...], ...]}]}``."""
    written = 0
    with path.open("wb") as out:
        head = orjson.dumps(heading(document))
        out.write(head[:-1] + b',"sections":[')
        for number, section in enumerate(document.sections):
            columns = [{"name": c.name, "kind": c.kind.value} for c in section.columns]
            opening = {"title": section.title, "note": section.note, "columns": columns}
            out.write((b"," if number else b"") + orjson.dumps(opening)[:-1] + b',"rows":[')
            first = True
            for chunk in chunks(section.rows):
                lead = b"" if first else b","
                out.write(lead + b",".join(orjson.dumps([_json_cell(v) for v in row]) for row in chunk))
                first = False
                written += len(chunk)
                progress(written)
            out.write(b"]}")
        out.write(b"]}")


# ---- CSV --------------------------------------------------------------------------------------------


def _csv_cell(value: Cell, kind: Kind) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | datetime):
        return value.isoformat()
    if kind is Kind.TEXT or isinstance(value, str):
        return inert_text(str(value))  # client-supplied text; numbers stay numbers (a negative one too)
    return str(value)


def _write_csv(document: ReportDocument, path: Path, progress: Progress) -> None:
    """One RFC 4180 table (CRLF, UTF-8): a ``section`` column, then the union of the sections' columns in
    section order; a row fills its own section's columns and leaves the others empty (as the product's
    export does). The heading is not repeated in the file: its name and the JSON carry it."""
    header = ["section", *dict.fromkeys(c.name for s in document.sections for c in s.columns)]
    place = {name: i for i, name in enumerate(header)}
    written = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        for section in document.sections:
            places = [place[c.name] for c in section.columns]
            kinds = [c.kind for c in section.columns]
            for chunk in chunks(section.rows):
                lines = []
                for row in chunk:
                    line = [""] * len(header)
                    line[0] = inert_text(section.title)
                    for at, kind, value in zip(places, kinds, row, strict=True):
                        line[at] = _csv_cell(value, kind)
                    lines.append(line)
                writer.writerows(lines)
                written += len(chunk)
                progress(written)


# ---- Excel ------------------------------------------------------------------------------------------

_SHEET_FORBIDDEN = str.maketrans(dict.fromkeys("[]:*?/\\", " "))


def sheet_names(sections: Sequence[Section]) -> list[str]:
    """Excel's rules: at most 31 characters, none of ``[]:*?/\\``, unique regardless of case."""
    names: list[str] = []
    taken: set[str] = {"report"}
    for number, section in enumerate(sections, start=1):
        cleaned = " ".join(section.title.translate(_SHEET_FORBIDDEN).split()).strip("'")
        base = cleaned[:31] or f"Section {number}"
        name, suffix = base, 2
        while name.lower() in taken:
            tail = f" ({suffix})"
            name, suffix = base[: 31 - len(tail)] + tail, suffix + 1
        taken.add(name.lower())
        names.append(name)
    return names


def _write_excel(document: ReportDocument, path: Path, progress: Progress) -> None:
    """A ``Report`` sheet with the heading, then one sheet per section: a bold, shaded, frozen header row,
    numbers as numbers, dates as dates, and a native chart where the section has one."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "remove_timezone": True, "strings_to_formulas": False}
    )
    header_format = workbook.add_format({"bold": True, "bg_color": "#DCE6F1", "bottom": 1})
    formats = {
        Kind.DATE: workbook.add_format({"num_format": "yyyy-mm-dd"}),
        Kind.DATETIME: workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        Kind.DECIMAL: workbook.add_format({"num_format": "0.00"}),
        Kind.INTEGER: workbook.add_format({"num_format": "0"}),
    }
    title_format = workbook.add_format({"bold": True, "font_size": 14})
    try:
        cover = workbook.add_worksheet("Report")
        cover.set_column(0, 0, 18)
        cover.set_column(1, 1, 60)
        cover.write_string(0, 0, document.title, title_format)
        for line, (name, value) in enumerate(heading(document).items(), start=2):
            cover.write_string(line, 0, name)
            cover.write_string(line, 1, value if isinstance(value, str) else orjson.dumps(value).decode())
        written = 0
        for section, name in zip(document.sections, sheet_names(document.sections), strict=True):
            sheet = workbook.add_worksheet(name)
            sheet.freeze_panes(1, 0)
            for at, column in enumerate(section.columns):
                sheet.write_string(0, at, column.name, header_format)
                sheet.set_column(at, at, max(12, min(len(column.name) + 2, 40)))
            line = 0
            for chunk in chunks(section.rows):
                for row in chunk:
                    line += 1
                    for at, (column, value) in enumerate(zip(section.columns, row, strict=True)):
                        _write_cell(sheet, line, at, column, value, formats)
                written += len(chunk)
                progress(written)
            if section.chart is not None and line > 0:
                _add_chart(workbook, sheet, name, section, line)
    finally:
        workbook.close()


def _write_cell(
    sheet: Any, line: int, at: int, column: Column, value: Cell, formats: dict[Kind, Any]
) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(line, at, value)
    elif isinstance(value, int | float | Decimal):
        sheet.write_number(line, at, float(value), formats.get(column.kind))
    elif isinstance(value, datetime):
        sheet.write_datetime(line, at, value, formats[Kind.DATETIME])
    elif isinstance(value, date):
        sheet.write_datetime(line, at, value, formats[Kind.DATE])
    else:
        sheet.write_string(line, at, str(value))


def _add_chart(workbook: Any, sheet: Any, name: str, section: Section, rows: int) -> None:
    chart_spec = section.chart
    assert chart_spec is not None
    names = [c.name for c in section.columns]
    chart = workbook.add_chart({"type": "line" if chart_spec.kind == "line" else "column"})
    x = names.index(chart_spec.x)
    for series in chart_spec.series:
        at = names.index(series)
        chart.add_series(
            {
                "name": series,
                "categories": [name, 1, x, rows, x],
                "values": [name, 1, at, rows, at],
            }
        )
    chart.set_title({"name": chart_spec.title or section.title})
    sheet.insert_chart(1, len(names) + 1, chart)


def text_of(value: Cell) -> str:
    """A cell as the PDF prints it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)
