"""The PDF form of a report: a title page (the report, the tenant, the period and its time zone, when and
with which parameters it was generated), then each section's chart (matplotlib, embedded as an image) and
table (ReportLab), at most :data:`~query_api.lms_reports.writers.PDF_MAX_ROWS` rows each."""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import orjson

from query_api.lms_reports.document import Cell, ReportDocument, Section
from query_api.lms_reports.writers import PDF_MAX_ROWS, Progress, heading, text_of

CHART_WIDTH_IN = 9.0
CHART_HEIGHT_IN = 3.2
FONT = "Helvetica"
BOLD_FONT = "Helvetica-Bold"
FONT_SIZE = 7
CELL_PADDING = 3


def write_pdf(document: ReportDocument, path: Path, progress: Progress) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import inch
    from reportlab.platypus import (
        Image,
        LongTable,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        TableStyle,
    )
    from reportlab.platypus.flowables import Flowable

    width = landscape(A4)[0] - 1.0 * inch  # the margins below
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontName=FONT, fontSize=FONT_SIZE, leading=FONT_SIZE + 1)
    story: list[Flowable] = [
        Spacer(1, 1.5 * inch),
        Paragraph(_escape(document.title), styles["Title"]),
        Spacer(1, 0.3 * inch),
    ]
    for name, value in heading(document).items():
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        story.append(Paragraph(f"<b>{_escape(name)}</b>: {_escape(text)}", styles["BodyText"]))
    story.append(PageBreak())
    written = 0
    for section in document.sections:
        taken = list(itertools.islice(iter(section.rows), PDF_MAX_ROWS + 1))
        more = len(taken) > PDF_MAX_ROWS
        rows = taken[:PDF_MAX_ROWS]
        story.append(Paragraph(_escape(section.title), styles["Heading2"]))
        if section.note:
            story.append(Paragraph(_escape(section.note), styles["BodyText"]))
        if section.chart is not None and rows:
            png = chart_png(section, rows)
            story.append(Image(io.BytesIO(png), width=CHART_WIDTH_IN * inch, height=CHART_HEIGHT_IN * inch))
            story.append(Spacer(1, 0.15 * inch))
        if rows:
            header = [Paragraph(f"<b>{_escape(header_text(c.name))}</b>", small) for c in section.columns]
            body = [[Paragraph(_escape(text_of(v)), small) for v in row] for row in rows]
            table = LongTable([header, *body], repeatRows=1, colWidths=column_widths(section, rows, width))
            table.setStyle(
                TableStyle(
                    [
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DCE6F1")),
                        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                    ]
                )
            )
            story.append(table)
        else:
            story.append(Paragraph("No data in this period.", styles["BodyText"]))
        if more:
            story.append(
                Paragraph(
                    f"The first {PDF_MAX_ROWS} rows are shown; the CSV, Excel and JSON forms have them all.",
                    styles["Italic"],
                )
            )
        story.append(Spacer(1, 0.25 * inch))
        written += len(rows)
        progress(written)

    def footer(canvas: object, doc: object) -> None:
        canvas.saveState()  # type: ignore[attr-defined]
        canvas.setFont("Helvetica", 7)  # type: ignore[attr-defined]
        canvas.drawString(  # type: ignore[attr-defined]
            0.5 * inch,
            0.35 * inch,
            f"{document.title} · {document.first}…{document.last} ({document.zone}) · page {doc.page}",  # type: ignore[attr-defined]
        )
        canvas.restoreState()  # type: ignore[attr-defined]

    pdf = SimpleDocTemplate(
        str(path),
        pagesize=landscape(A4),
        title=document.title,
        author="event-analytics",
        subject=f"{document.report_type} {document.first}..{document.last}",
        leftMargin=0.5 * inch,
        rightMargin=0.5 * inch,
        topMargin=0.5 * inch,
        bottomMargin=0.6 * inch,
    )
    pdf.build(story, onFirstPage=footer, onLaterPages=footer)


def chart_png(section: Section, rows: Sequence[Sequence[Cell]]) -> bytes:
    """The section's chart as a PNG (matplotlib's Agg backend: no display, safe in threads with its own
    figure)."""
    from matplotlib.figure import Figure

    spec = section.chart
    assert spec is not None
    names = [c.name for c in section.columns]
    x_at = names.index(spec.x)
    labels = [text_of(row[x_at]) for row in rows]
    figure = Figure(figsize=(CHART_WIDTH_IN, CHART_HEIGHT_IN), dpi=110)
    axes = figure.subplots()
    width = 0.8 / max(1, len(spec.series))
    for number, series in enumerate(spec.series):
        at = names.index(series)
        values = [_number(row[at]) for row in rows]
        if spec.kind == "line":
            axes.plot(range(len(rows)), values, marker="o", markersize=2.5, label=series)
        else:
            axes.bar([i + number * width for i in range(len(rows))], values, width=width, label=series)
    step = max(1, len(labels) // 12)
    axes.set_xticks(range(0, len(labels), step), labels[::step], rotation=30, ha="right", fontsize=7)
    axes.set_title(spec.title or section.title, fontsize=9)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def column_widths(section: Section, rows: Sequence[Sequence[Cell]], width: float) -> list[float]:
    """Each column as wide as its widest cell (of the first rows) or header word, so that numbers and
    dates are never broken; shrunk in proportion when they do not fit the page (cells then wrap)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    sample = rows[:100]
    needed = []
    for at, column in enumerate(section.columns):
        words = [stringWidth(word, BOLD_FONT, FONT_SIZE) for word in header_text(column.name).split()]
        cells = [stringWidth(text_of(row[at]), FONT, FONT_SIZE) for row in sample]
        needed.append(max([*words, *cells]) + 2 * CELL_PADDING + 2)
    total = sum(needed)
    return needed if total <= width else [width * n / total for n in needed]


def header_text(name: str) -> str:
    """A column name as a printed header: words (``average session duration``), which wrap at spaces."""
    return name.replace("_", " ")


def _number(value: Cell) -> float:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return float(value)
    return 0.0


def _escape(text: str) -> str:
    """ReportLab paragraphs read a little markup: client text must not be read as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
