"""Per-tenant ingestion API keys: write-only credentials for server-side senders (``X-API-Key``).

A key reads ``ak_<key_id>_<secret>``. ``key_id`` (12 hex characters) is not secret: it names the key in
listings, logs and ``revoke``. ``secret`` (``secrets.token_urlsafe(32)``, 256 random bits) is shown once,
when the key is created; only ``sha256(secret)`` is stored (table ``api_keys``, migration 0008). The tenant
of everything posted with a key is the key's tenant, never one named in the request.

Gateways never query ClickHouse per request: each process holds an :class:`ApiKeyDirectory`, a snapshot of
the active keys refreshed every ``refresh_s`` (5 s), so a revoked key stops working on every process within
``refresh_s`` plus one refresh's duration. Keys are created, listed and revoked with ``analytics api-keys``
(:func:`add_cli`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from plumbing.clickhouse import ClientHolder, open_for_command
from plumbing.migrate import migrate
from plumbing.settings import CommonSettings
from schemas.payloads import MAX_TENANT_ID_LENGTH, is_tenant_id
from schemas.times import as_utc, later_than, stored_now

log = logging.getLogger(__name__)

KEY_PREFIX = "ak"
KEY_ID_LENGTH = 12
"""Hex characters of a key id (48 random bits; :func:`create_key` refuses to reuse an existing id)."""
SECRET_BYTES = 32
SECRET_LENGTH = 43
"""``len(secrets.token_urlsafe(32))``: 32 bytes in unpadded base64url."""
KEY_LENGTH = len(KEY_PREFIX) + 1 + KEY_ID_LENGTH + 1 + SECRET_LENGTH
"""The bound bearer tokens put on ``tenant_id`` as well (``security.tokens``)."""
MAX_NAME_LENGTH = 100
DEFAULT_REFRESH_S = 5.0
EARLY_REFRESH_INTERVAL_S = 1.0

TABLE = "api_keys"
_COLUMNS = ["key_id", "tenant_id", "name", "secret_hash", "created_at", "revoked_at", "updated_at"]
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
    if not _KEY_ID.fullmatch(key_id) or not _SECRET.fullmatch(secret):
        return None
    return ParsedKey(key_id, secret)


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


# ---- stored keys (synchronous clickhouse-connect calls; async callers run them in a thread) -------------


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


def create_key(client: Client, tenant_id: str, name: str) -> tuple[ApiKeyInfo, str]:
    """Store a new key of ``tenant_id``; return its description and the plaintext key, which exists
    nowhere else afterwards. Raises :class:`ApiKeyError` on an invalid tenant id or name."""
    tenant_id, name = validate_tenant_id(tenant_id), validate_key_name(name)
    for _ in range(5):  # a reused id would replace the other key's row (and tenant): never write over one
        key = new_key()
        taken = client.query(
            f"SELECT count() FROM {TABLE} WHERE key_id = {{key_id:String}}", parameters={"key_id": key.key_id}
        ).result_rows[0][0]
        if not taken:
            break
    else:
        raise RuntimeError("could not draw an unused key id")
    created = stored_now()
    client.insert(
        TABLE,
        [[key.key_id, tenant_id, name, hash_secret(key.secret), created, None, created]],
        column_names=_COLUMNS,
    )
    return ApiKeyInfo(key.key_id, tenant_id, name, created, None), key.plaintext()


def list_keys(client: Client, tenant_id: str | None = None) -> list[ApiKeyInfo]:
    """Every key (revoked ones too, for auditing), optionally of one tenant, by tenant and creation."""
    where, params = "", {}
    if tenant_id is not None:  # safe next to FINAL: a key's rows never change tenant
        where, params = "WHERE tenant_id = {tenant:String}", {"tenant": tenant_id}
    rows = client.query(
        f"SELECT key_id, tenant_id, name, created_at, revoked_at FROM {TABLE} FINAL {where} "
        "ORDER BY tenant_id, created_at, key_id",
        parameters=params,
    ).result_rows
    return [
        ApiKeyInfo(str(k), str(t), str(n), as_utc(c), as_utc(r) if r is not None else None)
        for k, t, n, c, r in rows
    ]


def revoke_key(client: Client, key_id: str) -> bool:
    """Mark the key revoked (a newer row of the same id); ``False`` when it is unknown or already revoked.

    The new row's ``updated_at`` is strictly later than the current one even if the clocks of the
    processes that wrote them disagree, so the revoke always wins the ReplacingMergeTree merge.
    """
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        return False
    rows = client.query(
        f"SELECT tenant_id, name, secret_hash, created_at, revoked_at, updated_at FROM {TABLE} FINAL "
        "WHERE key_id = {key_id:String}",
        parameters={"key_id": key_id},
    ).result_rows
    if not rows:
        return False
    tenant, name, secret_hash, created, revoked, updated = rows[0]
    if revoked is not None:
        return False
    now = later_than(updated)
    row = [key_id, tenant, name, secret_hash, as_utc(created), now, now]
    client.insert(TABLE, [row], column_names=_COLUMNS)
    return True


@dataclass(frozen=True, slots=True)
class _Entry:
    identity: ApiKeyIdentity
    secret_hash: str


def _active_entries(client: Client) -> dict[str, _Entry]:
    # Revoked rows are filtered here, after FINAL has certainly merged the rows: a filter on a non-key column
    # that ran before the merge would let the older, unrevoked row of a revoked key through.
    rows = client.query(
        f"SELECT key_id, tenant_id, name, secret_hash, revoked_at FROM {TABLE} FINAL"
    ).result_rows
    return {
        str(k): _Entry(ApiKeyIdentity(str(k), str(t), str(n)), str(h))
        for k, t, n, h, revoked in rows
        if revoked is None
    }


# ---- what a gateway process uses per request ----------------------------------------------------------


class ApiKeyDirectory:
    """The active keys of every tenant, in memory, for O(1) synchronous checks on the request path.

    Contract:
    - :meth:`run` refreshes the snapshot every ``refresh_s``; each refresh reads ClickHouse in a worker
      thread (``asyncio.to_thread``) through one client made by ``client_factory`` (made lazily, remade
      after an error). A failed refresh keeps the last good snapshot and logs a warning; before the first
      good one every key is refused (fails closed).
    - A revoked key stops working within ``refresh_s`` plus one refresh's duration.
    - A well-formed key whose id is not in the snapshot starts an early refresh, at most one per
      ``early_refresh_interval_s`` counted from the last refresh of any kind, so a key created a moment
      ago works after one early refresh, yet junk keys cannot hammer ClickHouse.
    - :meth:`lookup` and :meth:`authenticate` are called on the event loop thread.
    """

    def __init__(
        self,
        client_factory: Callable[[], Client],
        *,
        refresh_s: float = DEFAULT_REFRESH_S,
        early_refresh_interval_s: float = EARLY_REFRESH_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = ClientHolder(client_factory)
        self.refresh_s = refresh_s
        self._early_interval = early_refresh_interval_s
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._loaded_at: float | None = None
        self._last_attempt = -math.inf
        self._lock = asyncio.Lock()
        self._early_task: asyncio.Task[bool] | None = None

    @property
    def loaded(self) -> bool:
        """At least one refresh succeeded (what a readiness probe may ask)."""
        return self._loaded_at is not None

    @property
    def snapshot_age_s(self) -> float | None:
        return None if self._loaded_at is None else self._clock() - self._loaded_at

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, presented: str) -> ApiKeyIdentity | None:
        """The identity of a valid, active key, else ``None``; never blocks and never raises.

        The key id is public, so finding it by dict lookup leaks nothing; the secret is compared in
        constant time.
        """
        parsed = parse_key(presented)
        if parsed is None:
            return None
        entry = self._entries.get(parsed.key_id)
        if entry is None:
            self._start_early_refresh()
            return None
        return entry.identity if secret_matches(parsed.secret, entry.secret_hash) else None

    async def authenticate(self, presented: str) -> ApiKeyIdentity | None:
        """:meth:`lookup`, but an unknown key id waits for the early refresh it starts (or the one
        running), so a key created a moment ago works on its first request."""
        parsed = parse_key(presented)
        if parsed is None:
            return None
        if parsed.key_id not in self._entries:
            task = self._start_early_refresh()
            if task is not None:
                await asyncio.shield(task)
            elif self._lock.locked():  # a refresh is reading now (e.g. the first one): its snapshot decides
                async with self._lock:
                    pass
        entry = self._entries.get(parsed.key_id)
        if entry is None or not secret_matches(parsed.secret, entry.secret_hash):
            return None
        return entry.identity

    def _start_early_refresh(self) -> asyncio.Task[bool] | None:
        """The early refresh running, or one started now if allowed; ``None`` when rate-limited or
        called off the event loop (the periodic refresh will pick the key up)."""
        if self._early_task is not None and not self._early_task.done():
            return self._early_task
        if self._clock() - self._last_attempt < self._early_interval:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        self._last_attempt = self._clock()  # claimed now, so lookups before the task starts do not pile up
        self._early_task = loop.create_task(self.refresh(), name="api-key-early-refresh")
        return self._early_task

    async def refresh(self) -> bool:
        """Replace the snapshot with the active keys in ClickHouse; ``False`` (snapshot kept) on failure."""
        async with self._lock:
            self._last_attempt = self._clock()
            try:
                entries = await asyncio.to_thread(self._load)
            except Exception as exc:
                age = self.snapshot_age_s
                kept = f"keeping the snapshot of {age:.0f} s ago" if age is not None else "no keys loaded yet"
                log.warning("API keys not refreshed (%s): %s", kept, exc)
                return False
            self._entries = entries
            self._loaded_at = self._clock()
            return True

    def _load(self) -> dict[str, _Entry]:
        """Runs in a worker thread."""
        return self._reader.call(_active_entries)

    async def run(self) -> None:
        """Refresh now and then every ``refresh_s`` until cancelled."""
        while True:
            await self.refresh()
            await asyncio.sleep(self.refresh_s)

    async def close(self) -> None:
        """Stop a running early refresh and close the client (cancel :meth:`run`'s task first)."""
        if self._early_task is not None and not self._early_task.done():
            self._early_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._early_task
        async with self._lock:
            await asyncio.to_thread(self._reader.close)


# ---- analytics api-keys -------------------------------------------------------------------------------

Handler = Callable[[argparse.Namespace], int]

_CLI_NOTE = """\
Keys are stored in ClickHouse (ANALYTICS_CLICKHOUSE_URL, ANALYTICS_CLICKHOUSE_DATABASE); pending
migrations are applied first. Gateways pick up new and revoked keys within a few seconds.

With the embedded store (chdb://..., the default) only one process may open the data directory at a
time: while `analytics dev` runs on it, this command cannot open it. Create keys before starting
`analytics dev` (or stop it for a moment), or use a ClickHouse server (http://host:8123), which any
number of processes share."""


@contextlib.contextmanager
def _storage() -> Iterator[Client]:
    settings = CommonSettings()
    client = open_for_command(settings.clickhouse_url, settings.clickhouse_database, create_database=True)
    try:
        migrate(client)
        yield client
    finally:
        client.close()


def _guarded(handler: Handler) -> Handler:
    """Report input errors as one line on stderr with exit status 1, not a traceback (a store that cannot
    be opened is reported by the ``analytics`` command itself)."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ApiKeyError as exc:
            print(f"api-keys: {exc}", file=sys.stderr)
            return 1

    return run


def _cmd_create(args: argparse.Namespace) -> int:
    tenant_id, name = validate_tenant_id(args.tenant), validate_key_name(args.name)  # before opening storage
    with _storage() as client:
        info, plaintext = create_key(client, tenant_id, name)
    if args.json:
        print(json.dumps({**info.to_json(), "key": plaintext}))
        return 0
    print(f"created API key {info.key_id} for tenant {info.tenant_id} ({info.name})")
    print(plaintext)
    print("This is the only time the key is shown (only its hash is stored). Send it as X-API-Key.")
    return 0


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value is not None else "-"


def _cmd_list(args: argparse.Namespace) -> int:
    tenant_id = validate_tenant_id(args.tenant) if args.tenant is not None else None
    with _storage() as client:
        keys = list_keys(client, tenant_id)
    if args.json:
        print(json.dumps([info.to_json() for info in keys]))
        return 0
    rows = [("KEY ID", "TENANT", "NAME", "CREATED", "REVOKED")]
    rows += [(k.key_id, k.tenant_id, k.name, _when(k.created_at), _when(k.revoked_at)) for k in keys]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    print(f"{len(keys)} key(s), {sum(k.active for k in keys)} active")
    return 0


def _cmd_revoke(args: argparse.Namespace) -> int:
    with _storage() as client:
        revoked = revoke_key(client, args.key_id)
    if not revoked:
        print(f"api-keys: no active key {args.key_id!r} (unknown or already revoked)", file=sys.stderr)
        return 1
    print(f"revoked API key {args.key_id}; gateways refuse it within a few seconds")
    return 0


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``api-keys create|list|revoke`` on the ``analytics`` command's subparsers; each action
    sets ``handler`` (a function of the parsed arguments returning the exit status)."""
    with_note: dict[str, Any] = {
        "epilog": _CLI_NOTE,
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }
    parser = subparsers.add_parser(
        "api-keys",
        help="create, list and revoke per-tenant ingestion API keys (X-API-Key)",
        description="Per-tenant, write-only ingestion API keys for server-side senders (X-API-Key).",
        **with_note,
    )
    actions = parser.add_subparsers(dest="api_keys_action", required=True)

    create = actions.add_parser(
        "create",
        help="create a key; prints it once",
        description="Create a key of a tenant. The key is printed once; only its hash is stored.",
        **with_note,
    )
    create.add_argument("--tenant", required=True, help="tenant stamped on every event sent with the key")
    create.add_argument("--name", required=True, help="what the key is for, e.g. the sending service")
    create.add_argument("--json", action="store_true", help="print one JSON object (includes the key)")
    create.set_defaults(handler=_guarded(_cmd_create))

    listing = actions.add_parser("list", help="list keys (never secrets), revoked ones included", **with_note)
    listing.add_argument("--tenant", help="only this tenant's keys")
    listing.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    listing.set_defaults(handler=_guarded(_cmd_list))

    revoke = actions.add_parser(
        "revoke", help="revoke a key (exit status 1 when unknown or already revoked)", **with_note
    )
    revoke.add_argument("key_id", metavar="KEY_ID", help="the key id shown by create and list")
    revoke.set_defaults(handler=_guarded(_cmd_revoke))
