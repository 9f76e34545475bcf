"""Every report format read back by an independent reader: the same cells, typed, in every format."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pypdf
import pytest

from query_api.lms_reports import writers
from query_api.lms_reports.document import Chart, Column, Kind, ReportDocument, Section
from query_api.lms_reports.writers import ExportFormat, sheet_names, write_document

GENERATED = datetime(2026, 3, 30, 8, 15, tzinfo=UTC)
DAYS = [date(2026, 3, 1) + timedelta(days=i) for i in range(31)]
COLUMNS = (
    Column("period_start", Kind.DATE),
    Column("active_users", Kind.INTEGER),
    Column("error_rate", Kind.DECIMAL),
    Column("label", Kind.TEXT),
)


def _rows() -> list[list[object]]:
    return [
        [day, 100 + i, Decimal(i) / 4, f"=day {i}" if i == 3 else f"day {i}"] for i, day in enumerate(DAYS)
    ]


def _document(rows: int | None = None) -> ReportDocument:
    """Two sections whose rows are generators (consumed once), the first with a chart."""
    return ReportDocument(
        title="System usage <March>",
        report_type="SYSTEM_USAGE",
        tenant_id="acme",
        zone="Europe/Berlin",
        first=DAYS[0],
        last=DAYS[-1],
        generated_at=GENERATED,
        parameters={"granularity": "DAILY"},
        sections=[
            Section("Usage: daily", COLUMNS, iter(_rows()), Chart("line", "period_start", ("active_users",))),
            Section(
                "Negative and empty",
                (Column("delta", Kind.INTEGER), Column("note", Kind.TEXT), Column("at", Kind.DATETIME)),
                iter([[-5, None, GENERATED], [7, "-1+2", None]]),
            ),
        ],
    )


def test_json_holds_every_cell(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write_document(_document(), ExportFormat.JSON, path)
    body = json.loads(path.read_text())
    assert body["timezone"] == "Europe/Berlin" and body["period_start"] == "2026-03-01"
    usage, other = body["sections"]
    assert [c["name"] for c in usage["columns"]] == [c.name for c in COLUMNS]
    assert usage["rows"][5] == ["2026-03-06", 105, 1.25, "day 5"]
    assert len(usage["rows"]) == 31
    assert other["rows"] == [[-5, None, GENERATED.isoformat()], [7, "-1+2", None]]


def test_csv_is_rfc4180_and_formula_safe(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    write_document(_document(), ExportFormat.CSV, path)
    raw = path.read_bytes()
    assert raw.count(b"\r\n") == 1 + 31 + 2  # header, rows; CRLF line ends
    with path.open(newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    header = lines[0]
    assert header == ["section", "period_start", "active_users", "error_rate", "label", "delta", "note", "at"]
    row = dict(zip(header, lines[1 + 3], strict=True))
    assert (
        row["period_start"] == "2026-03-04" and row["active_users"] == "103" and row["error_rate"] == "0.75"
    )
    assert row["label"] == "'=day 3"  # a spreadsheet would run it as a formula
    negative = dict(zip(header, lines[32], strict=True))
    assert negative["delta"] == "-5" and negative["note"] == ""  # numbers stay numbers
    assert dict(zip(header, lines[33], strict=True))["note"] == "'-1+2"


def test_excel_cells_are_typed_with_frozen_styled_headers(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    seen: list[int] = []
    write_document(_document(), ExportFormat.EXCEL, path, seen.append)
    assert seen[-1] == 33
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Report", "Usage daily", "Negative and empty"]
    sheet = book["Usage daily"]
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].value == "period_start" and sheet["A1"].font.b
    assert sheet["A2"].value == datetime(2026, 3, 1) and sheet["A2"].is_date
    assert sheet["B7"].value == 105 and sheet["C7"].value == 1.25
    assert sheet["D5"].value == "=day 3" and sheet["D5"].data_type == "s"  # a string, never a formula
    assert sheet.max_row == 32
    other = book["Negative and empty"]
    assert other["A2"].value == -5 and other["C2"].value == datetime(2026, 3, 30, 8, 15)
    cover = {row[0]: row[1] for row in book["Report"].iter_rows(min_row=2, values_only=True) if row[0]}
    assert cover["tenant_id"] == "acme" and cover["timezone"] == "Europe/Berlin"
    assert cover["period_end"] == "2026-03-31" and cover["parameters"] == '{"granularity":"DAILY"}'


def test_pdf_has_title_page_tables_and_a_chart_image(tmp_path: Path) -> None:
    path = tmp_path / "r.pdf"
    write_document(_document(), ExportFormat.PDF, path)
    reader = pypdf.PdfReader(path)
    first = reader.pages[0].extract_text()
    assert "System usage <March>" in first and "Europe/Berlin" in first and "2026-03-31" in first
    rest = "\n".join(page.extract_text() for page in reader.pages[1:])
    assert "2026-03-06" in rest and "105" in rest and "-5" in rest
    images = [image for page in reader.pages for image in page.images]
    assert images, "the chart is embedded as an image"


def test_pdf_lays_out_a_bounded_number_of_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writers, "PDF_MAX_ROWS", 10)
    from query_api.lms_reports import pdf

    monkeypatch.setattr(pdf, "PDF_MAX_ROWS", 10)
    path = tmp_path / "r.pdf"
    write_document(_document(), ExportFormat.PDF, path)
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(path).pages)
    assert "2026-03-10" in text and "2026-03-11" not in text.split("Negative")[0].split("rows are shown")[0]
    assert "The first 10 rows are shown" in text


def test_sheet_names_follow_excels_rules() -> None:
    sections = [Section(title, COLUMNS, []) for title in ("a/b:c", "A/B:C", "x" * 40, "Report", "")]
    assert sheet_names(sections) == ["a b c", "A B C (2)", "x" * 31, "Report (2)", "Section 5"]
