"""Per-tenant ingestion API keys: write-only credentials for server-side senders (``X-API-Key``). This
module holds what a key *is* — its format, parsing, hashing, the validation of what is stored with it and the
descriptions shown of it — without I/O.

A key reads ``ak_<key_id>_<secret>``. ``key_id`` (12 hex characters) is not secret: it names the key in
listings, logs and ``revoke``. ``secret`` (``secrets.token_urlsafe(32)``, 256 random bits) is shown once,
when the key is created; only ``sha256(secret)`` is stored (table ``api_keys``, migration 0008). The tenant
of everything posted with a key is the key's tenant, never one named in the request.

Keys are stored, listed and revoked by :mod:`security.api_key_store` (through ``analytics api-keys``,
:mod:`cli.api_keys`); gateways check them against an in-memory :mod:`security.api_key_directory`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.payloads import MAX_TENANT_ID_LENGTH, is_tenant_id

KEY_PREFIX = "ak"
KEY_ID_LENGTH = 12
"""Hex characters of a key id (48 random bits; :func:`security.api_key_store.create_key` refuses to reuse an
existing id)."""
SECRET_BYTES = 32
SECRET_LENGTH = 43
"""``len(secrets.token_urlsafe(32))``: 32 bytes in unpadded base64url."""
KEY_LENGTH = len(KEY_PREFIX) + 1 + KEY_ID_LENGTH + 1 + SECRET_LENGTH
"""The bound bearer tokens put on ``tenant_id`` as well (``security.tokens``)."""
MAX_NAME_LENGTH = 100

_KEY_ID = re.compile(rf"[0-9a-f]{{{KEY_ID_LENGTH}}}")
_SECRET = re.compile(rf"[A-Za-z0-9_-]{{{SECRET_LENGTH}}}")


class ApiKeyError(ValueError):
    """A tenant id or key name that cannot be stored."""


# ---- the key format -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedKey:
    key_id: str
    secret: str

    def plaintext(self) -> str:
        return f"{KEY_PREFIX}_{self.key_id}_{self.secret}"

    def __repr__(self) -> str:  # never let the secret reach a log line through repr()
        return f"ParsedKey(key_id={self.key_id!r}, secret=<hidden>)"


def parse_key(presented: str) -> ParsedKey | None:
    """The parts of a well-formed key, else ``None``. The length is checked first, so arbitrarily long
    header values cost nothing."""
    if not isinstance(presented, str) or len(presented) != KEY_LENGTH:
        return None
    prefix, key_id, secret = presented[:2], presented[3 : 3 + KEY_ID_LENGTH], presented[4 + KEY_ID_LENGTH :]
    if prefix != KEY_PREFIX or presented[2] != "_" or presented[3 + KEY_ID_LENGTH] != "_":
        return None
    if not is_key_id(key_id) or not _SECRET.fullmatch(secret):
        return None
    return ParsedKey(key_id, secret)


def is_key_id(value: str) -> bool:
    """Whether ``value`` has the form of a key id (12 lower-case hex characters)."""
    return isinstance(value, str) and _KEY_ID.fullmatch(value) is not None


def new_key() -> ParsedKey:
    return ParsedKey(secrets.token_hex(KEY_ID_LENGTH // 2), secrets.token_urlsafe(SECRET_BYTES))


def hash_secret(secret: str) -> str:
    """``sha256(secret)`` in hex.

    A fast unsalted hash is the right choice here, unlike for passwords: the secret is 256 random bits, so
    there is no dictionary to try and brute force is out of reach whatever the hash costs, while a slow
    KDF (bcrypt, argon2) would spend milliseconds of CPU on every ingestion request.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of ``secret``'s hash with a stored one (no timing oracle on the hash)."""
    return hmac.compare_digest(hash_secret(secret).encode(), stored_hash.encode())


def validate_tenant_id(value: str) -> str:
    """The tenant-id rule of tokens (:func:`schemas.payloads.is_tenant_id`), so a key's tenant is one a token
    can name; whitespace is refused too (a tenant id ends up in partition keys and logs)."""
    if not isinstance(value, str) or not is_tenant_id(value) or any(c.isspace() for c in value):
        raise ApiKeyError(
            f"tenant id must be 1-{MAX_TENANT_ID_LENGTH} characters without '/', whitespace or "
            "control characters"
        )
    return value


def validate_key_name(value: str) -> str:
    """1-100 printable characters, no leading or trailing whitespace (it is shown in listings)."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME_LENGTH:
        raise ApiKeyError(f"key name must be 1-{MAX_NAME_LENGTH} characters")
    if not value.isprintable() or value != value.strip():
        raise ApiKeyError("key name must be printable characters without leading or trailing whitespace")
    return value


# ---- what may be shown of a key, and who posted with one ------------------------------------------


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """What may be shown about a key: never its secret nor its hash."""

    key_id: str
    tenant_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "tenant_id": self.tenant_id,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "active": self.active,
        }


@dataclass(frozen=True, slots=True)
class ApiKeyIdentity:
    """Who posted with a key: the tenant to stamp, and the key (for audit logs and rate limits)."""

    key_id: str
    tenant_id: str
    name: str
