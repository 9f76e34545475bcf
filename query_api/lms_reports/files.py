"""Generated files on disk and their download links: a link names the file, its tenant and an expiry, and
carries an HMAC of the three (``itsdangerous``), so it can be handed to an e-mail recipient without a
credential and cannot be altered to reach another file or outlive its expiry."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from itsdangerous import BadSignature, Signer

from query_api.lms_reports.settings import ReportSettings
from security.tokens import dev_secret

SALT = "analytics-file-link"
WEBHOOK_SALT = "analytics-webhook"


@dataclass(frozen=True, slots=True)
class FileLink:
    """What a link's query string carries besides the path."""

    expires: int
    """Unix seconds"""
    signature: str


class FileStore:
    def __init__(self, settings: ReportSettings) -> None:
        self.root = Path(settings.files_dir).expanduser().resolve()
        key = settings.files_signing_key
        secret = key.get_secret_value() if key is not None else dev_secret(self.root, "files-signing-key")
        self._signer = Signer(secret, salt=SALT, digest_method=hashlib.sha256)
        self._webhook_signer = Signer(secret, salt=WEBHOOK_SALT, digest_method=hashlib.sha256)

    def path_for(self, kind: str, tenant_id: str, name: str) -> Path:
        """Where a tenant's file of ``kind`` (``reports``) named ``name`` lives: a directory per tenant
        (by hash: tenant ids are not path-safe by contract)."""
        folder = self.root / kind / hashlib.sha256(tenant_id.encode()).hexdigest()[:24]
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    def absolute(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if self.root not in path.parents:
            raise ValueError(f"{relative!r} is outside the files directory")
        return path

    def sign(self, subject: str, expires_at: datetime) -> FileLink:
        """A link to ``subject`` (``report:<tenant>:<generation id>``) valid until ``expires_at``."""
        expires = int(expires_at.timestamp())
        return FileLink(expires, self._signer.get_signature(f"{subject}|{expires}").decode())

    def verify(self, subject: str, expires: int, signature: str) -> bool:
        try:
            return self._signer.verify_signature(f"{subject}|{expires}", signature)
        except BadSignature:
            return False

    @staticmethod
    def remove(path: Path) -> None:
        path.unlink(missing_ok=True)

    def sign_webhook(self, timestamp: int, body: bytes) -> str:
        """The signature of a webhook body sent at ``timestamp`` (``X-Analytics-Signature``): the receiver
        holding the same key checks it with ``itsdangerous.Signer(key, salt="analytics-webhook",
        digest_method=hashlib.sha256)`` over ``b"<timestamp>." + body``."""
        return self._webhook_signer.get_signature(str(timestamp).encode() + b"." + body).decode()
