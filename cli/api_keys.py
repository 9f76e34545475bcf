"""``analytics api-keys create|list|revoke``: per-tenant ingestion API keys (:mod:`security.api_keys`),
stored in ClickHouse by :mod:`security.api_key_store`.

The store and the migration runner (clickhouse-connect) are imported by the functions that use them: the
``analytics`` command imports this module to register ``api-keys``, and its ``--help`` must stay quick.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from plumbing.settings import CommonSettings, load_settings
from security.api_keys import ApiKeyError, validate_key_name, validate_tenant_id

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

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
    from plumbing.clickhouse import open_for_command
    from plumbing.migrate import migrate

    settings = load_settings(CommonSettings)
    client = open_for_command(settings.clickhouse_url, settings.clickhouse_database, create_database=True)
    try:
        migrate(client, settings.clickhouse_cluster)
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
    from security.api_key_store import create_key

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
    from security.api_key_store import list_keys

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
    from security.api_key_store import revoke_key

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
