"""The ``api_keys`` table (migration 0008): storing, listing and revoking keys, and reading the active ones
for :class:`~security.api_key_directory.ApiKeyDirectory`.

Synchronous clickhouse-connect calls; async callers run them in a thread. Rows are never updated in place
(ReplacingMergeTree on ``key_id``, the latest ``updated_at`` wins): a revoke writes a newer row of the same
key, read with ``FINAL``. A stored hash leaves this module only in :class:`ActiveKey`, which the directory
compares presented secrets with; a plaintext key only once, from :func:`create_key`.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from schemas.times import as_utc, later_than, stored_now
from security.api_keys import (
    ApiKeyIdentity,
    ApiKeyInfo,
    hash_secret,
    is_key_id,
    new_key,
    validate_key_name,
    validate_tenant_id,
)

TABLE = "api_keys"
_COLUMNS = ["key_id", "tenant_id", "name", "secret_hash", "created_at", "revoked_at", "updated_at"]


def create_key(client: Client, tenant_id: str, name: str) -> tuple[ApiKeyInfo, str]:
    """Store a new key of ``tenant_id``; return its description and the plaintext key, which exists
    nowhere else afterwards. Raises :class:`~security.api_keys.ApiKeyError` on an invalid tenant id or
    name."""
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
    if not is_key_id(key_id):
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
class ActiveKey:
    """An active key as a gateway checks it: who it names, and the hash presented secrets must match."""

    identity: ApiKeyIdentity
    secret_hash: str


def active_keys(client: Client) -> dict[str, ActiveKey]:
    """Every key not revoked, by key id."""
    # Revoked rows are filtered here, after FINAL has certainly merged the rows: a filter on a non-key column
    # that ran before the merge would let the older, unrevoked row of a revoked key through.
    rows = client.query(
        f"SELECT key_id, tenant_id, name, secret_hash, revoked_at FROM {TABLE} FINAL"
    ).result_rows
    return {
        str(k): ActiveKey(ApiKeyIdentity(str(k), str(t), str(n)), str(h))
        for k, t, n, h, revoked in rows
        if revoked is None
    }
