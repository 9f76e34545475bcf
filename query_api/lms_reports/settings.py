"""Settings of report generation and its files (``ANALYTICS_FILES_*``, ``ANALYTICS_REPORT_*``): read by the
query API and ``analytics dev``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from plumbing.settings import ENV_CONFIG, PLACEHOLDER


class ReportSettings(BaseSettings):
    model_config = ENV_CONFIG

    files_dir: str = "./var/files"
    """Where generated reports (and exports) are written; every process serving their links reads it (a
    shared volume when several run)."""
    files_signing_key: Annotated[SecretStr, Field(min_length=32)] | None = None
    """Signs download links (HMAC, ``itsdangerous``). Unset: a key generated once in ``files_dir`` (enough
    for one host; set it when several processes sign or check links)."""
    report_link_ttl_s: int = Field(7 * 86400, ge=60)
    """How long a generated file and its link live; the file is removed after."""
    report_generators: int = Field(2, ge=1, le=64)
    """Generations one process runs at once; later ones wait in arrival order."""
    report_wait_s: float = Field(20.0, ge=0)
    """How long ``POST …/generate`` waits for its generation before answering 202 with the link that will
    serve the file once it is written."""
    report_heartbeat_s: float = Field(10.0, gt=0)
    """A running generation marks itself alive this often; one silent for 6 beats belonged to a process
    that died and is marked ``FAILED``."""

    public_url: str = "http://127.0.0.1:8001"
    """How recipients reach the query API (the base of links in e-mails and webhooks); API answers use the
    address the client called."""
    smtp_host: str | None = None
    """The SMTP server scheduled reports are sent through; unset: e-mail deliveries fail with that reason
    (webhooks still go)."""
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_from: str = "analytics@localhost"
    smtp_max_attachment_bytes: int = Field(10 * 1024 * 1024, ge=0)
    """Larger files are sent as a link instead of an attachment."""
    delivery_attempts: int = Field(3, ge=1, le=10)
    """Tries per recipient (backing off between them) before its delivery is recorded ``FAILED``."""
    scheduler_tick_s: float = Field(15.0, gt=0)
    """How often a scheduler looks for due schedules."""

    @field_validator("files_signing_key")
    @classmethod
    def _not_the_example(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and PLACEHOLDER in value.get_secret_value():
            raise ValueError("ANALYTICS_FILES_SIGNING_KEY is the deploy files' placeholder: set a secret")
        return value
