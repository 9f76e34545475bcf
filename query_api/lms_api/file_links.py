"""What the two signed downloads share (a report's generation, an export): the documented answers, the
link's checks in order (altered → 403, expired → 410), and the file as an attachment (gone → 410)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse

from plumbing.http_errors import AnalyticsError
from query_api.lms_api.responses import error_doc
from query_api.lms_reports.jobs import ReportJobs
from query_api.lms_reports.writers import EXTENSIONS, MEDIA_TYPES, ExportFormat
from schemas.lms_envelope import AnalyticsErrorCode

FILE_ANSWER: dict[str, Any] = {
    "description": "the file (``Content-Disposition: attachment``)",
    "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in MEDIA_TYPES.values()},
}
ALTERED = error_doc(
    403, "the link was altered", AnalyticsErrorCode.FORBIDDEN, "this download link is not valid"
)
NOT_WRITTEN = error_doc(
    409, "the file is not written yet", AnalyticsErrorCode.CONFLICT, "export 7 is processing"
)
EXPIRED = error_doc(
    410, "the link or the file expired", AnalyticsErrorCode.GONE, "this download link has expired"
)


def report_jobs_of(request: Request) -> ReportJobs:
    """The process's job pool and files (``app.state.report_jobs``)."""
    jobs: ReportJobs = request.app.state.report_jobs
    return jobs


def check_link(
    jobs: ReportJobs, subject: str, expires: int, signature: str, expires_at: datetime | None
) -> None:
    """403 unless the link's signature covers ``subject`` and ``expires``; 410 once either expiry passed."""
    if not jobs.files.verify(subject, expires, signature):
        raise refused()
    now = jobs.clock()
    if expires < now.timestamp() or (expires_at is not None and expires_at < now):
        raise AnalyticsError(410, AnalyticsErrorCode.GONE, "this download link has expired")


def refused() -> AnalyticsError:
    return AnalyticsError(403, AnalyticsErrorCode.FORBIDDEN, "this download link is not valid")


def not_written(what: str) -> AnalyticsError:
    return AnalyticsError(409, AnalyticsErrorCode.CONFLICT, f"{what}, not ready")


def file_answer(jobs: ReportJobs, file_name: str | None, fmt: ExportFormat, name: str) -> FileResponse:
    """The file as ``<name>.<extension>``, never cached by intermediaries; 410 once removed."""
    path = jobs.files.absolute(file_name) if file_name else None
    if path is None or not path.exists():
        raise AnalyticsError(410, AnalyticsErrorCode.GONE, "the file has expired")
    return FileResponse(
        path,
        media_type=MEDIA_TYPES[fmt],
        filename=f"{name}.{EXTENSIONS[fmt]}",
        headers={"Cache-Control": "private, no-store"},
    )
