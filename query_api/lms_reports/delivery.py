"""Delivering a generated report: by e-mail over SMTP (``aiosmtplib``; the file attached, or a signed link
when it is larger than ``smtp_max_attachment_bytes``) and by webhook (``httpx``; a JSON notice with the
link, signed like the links: ``X-Analytics-Signature`` over ``<timestamp>.<body>``). Each recipient is
tried up to ``delivery_attempts`` times with backoff (``tenacity``); the caller records the outcome."""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
import orjson
from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

from query_api.lms_reports.files import FileStore
from query_api.lms_reports.settings import ReportSettings
from query_api.lms_reports.writers import MEDIA_TYPES, ExportFormat


@dataclass(frozen=True, slots=True)
class Delivered:
    """A generated file to deliver: where it is, what it is, and its link."""

    report_name: str
    report_id: int
    schedule_id: int
    generation_id: int
    fmt: ExportFormat
    path: Path
    url: str
    period: str
    generated_at: str


class DeliveryError(Exception):
    """A recipient that could not be reached after every attempt (the message says why)."""


class Deliveries:
    def __init__(self, settings: ReportSettings, files: FileStore) -> None:
        self.settings = settings
        self.files = files

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_attempt(self.settings.delivery_attempts),
            wait=wait_exponential(multiplier=0.2, max=5),
            reraise=True,
        )

    async def email(self, address: str, item: Delivered) -> int:
        """Send ``item`` to ``address``; the attempts it took. Raises :class:`DeliveryError`."""
        settings = self.settings
        if settings.smtp_host is None:
            raise DeliveryError("no SMTP server is configured (ANALYTICS_SMTP_HOST)")
        message = EmailMessage()
        message["From"] = settings.smtp_from
        message["To"] = address
        message["Subject"] = f"{item.report_name} ({item.period})"
        size = item.path.stat().st_size
        attach = size <= settings.smtp_max_attachment_bytes
        lines = [
            f"{item.report_name}: {item.period}, generated {item.generated_at}.",
            "The report is attached." if attach else f"The report ({size} bytes) is too large to attach.",
            f"Download it (the link expires): {item.url}",
        ]
        message.set_content("\n\n".join(lines))
        if attach:
            main, sub = MEDIA_TYPES[item.fmt].split(";")[0].split("/")
            message.add_attachment(
                item.path.read_bytes(), maintype=main, subtype=sub, filename=item.path.name
            )
        attempts = 0
        try:
            async for attempt in self._retrying():
                with attempt:
                    attempts += 1
                    await aiosmtplib.send(
                        message,
                        hostname=settings.smtp_host,
                        port=settings.smtp_port,
                        username=settings.smtp_username,
                        password=None
                        if settings.smtp_password is None
                        else settings.smtp_password.get_secret_value(),
                        start_tls=settings.smtp_starttls,
                        timeout=30,
                    )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}"[:500]) from exc
        return attempts

    async def webhook(self, url: str, item: Delivered, status: str) -> int:
        """POST the notice to ``url`` (a 2xx answer delivers it); the attempts it took."""
        body = orjson.dumps(
            {
                "event": "report.generated",
                "status": status,
                "report_id": item.report_id,
                "schedule_id": item.schedule_id,
                "generation_id": item.generation_id,
                "format": item.fmt.value,
                "period": item.period,
                "generatedAt": item.generated_at,
                "reportUrl": item.url,
            }
        )
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "x-analytics-timestamp": str(timestamp),
            "x-analytics-signature": self.files.sign_webhook(timestamp, body),
        }
        attempts = 0
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                async for attempt in self._retrying():
                    with attempt:
                        attempts += 1
                        response = await client.post(url, content=body, headers=headers)
                        response.raise_for_status()
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}"[:500]) from exc
        return attempts
