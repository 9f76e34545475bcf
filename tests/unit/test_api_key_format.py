"""Ingestion API keys without ClickHouse: the key format, hashing, the constant-time comparison, input
validation, and the directory's lookup, early-refresh rate limit and last-good snapshot (over a fake
client that answers like clickhouse-connect)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from typing import Any, cast

import pytest
from clickhouse_connect.driver.client import Client

from security.api_key_directory import ApiKeyDirectory
from security.api_keys import (
    KEY_LENGTH,
    ApiKeyError,
    ApiKeyIdentity,
    ParsedKey,
    hash_secret,
    new_key,
    parse_key,
    secret_matches,
    validate_key_name,
    validate_tenant_id,
)

KEY_ID = "0123456789ab"
SECRET = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"
"""A secret as ``secrets.token_urlsafe(32)`` makes them, fixed: the parametrized cases embed it, and their
ids must be the same in every process collecting them (pytest-xdist)."""


def test_a_new_key_has_the_documented_shape_and_parses_back() -> None:
    key = new_key()
    plaintext = key.plaintext()
    assert len(plaintext) == KEY_LENGTH == 59
    assert plaintext.startswith(f"ak_{key.key_id}_")
    assert len(key.key_id) == 12 and int(key.key_id, 16) >= 0
    assert parse_key(plaintext) == key
    assert key.secret not in repr(key)


def test_secrets_containing_underscores_and_dashes_parse() -> None:
    secret = "_-" + "A" * 39 + "-_"
    assert parse_key(f"ak_{KEY_ID}_{secret}") == ParsedKey(KEY_ID, secret)


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "ak_",
        f"ak_{KEY_ID}_{SECRET}x",  # too long
        f"ak_{KEY_ID}_{SECRET[:-1]}",  # too short
        f"AK_{KEY_ID}_{SECRET}",
        f"sk_{KEY_ID}_{SECRET}",
        f"ak-{KEY_ID}_{SECRET}",
        f"ak_{KEY_ID}-{SECRET}",
        f"ak_0123456789AB_{SECRET}",  # key ids are lower-case hex
        f"ak_0123456789ag_{SECRET}",
        f"ak_{KEY_ID}_{'A' * 42}=",  # padding is not base64url without padding
        f"ak_{KEY_ID}_{'A' * 42}+",
        f"ak_{KEY_ID}_{'A' * 42} ",
        f"ak_{KEY_ID}_{'é' * 43}",
        f"Bearer ak_{KEY_ID}_{SECRET}"[:59],
        "x" * 100_000,
    ],
)
def test_malformed_keys_do_not_parse(presented: str) -> None:
    assert parse_key(presented) is None


def test_non_strings_do_not_parse() -> None:
    assert parse_key(cast(str, None)) is None
    assert parse_key(cast(str, b"ak_" + KEY_ID.encode() + b"_" + SECRET.encode())) is None


def test_the_stored_hash_is_sha256_hex_of_the_secret_only() -> None:
    assert hash_secret(SECRET) == hashlib.sha256(SECRET.encode()).hexdigest()
    assert len(hash_secret(SECRET)) == 64
    assert secret_matches(SECRET, hash_secret(SECRET))
    assert not secret_matches(SECRET[:-1] + ("A" if SECRET[-1] != "A" else "B"), hash_secret(SECRET))
    assert not secret_matches(SECRET, "")


def test_secrets_are_compared_with_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    compare_digest = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return compare_digest(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    directory = _directory([(KEY_ID, "acme", "backend", hash_secret(SECRET), None)])
    _load(directory)
    assert directory.lookup(f"ak_{KEY_ID}_{SECRET}") == ApiKeyIdentity(KEY_ID, "acme", "backend")
    assert directory.lookup(f"ak_{KEY_ID}_{'B' * 43}") is None
    assert calls == [
        (hash_secret(SECRET).encode(), hash_secret(SECRET).encode()),
        (hash_secret("B" * 43).encode(), hash_secret(SECRET).encode()),
    ]


@pytest.mark.parametrize("tenant", ["acme", "t" * 64, "tenant-1.eu_west"])
def test_valid_tenant_ids(tenant: str) -> None:
    assert validate_tenant_id(tenant) == tenant


@pytest.mark.parametrize("tenant", ["", "t" * 65, "ac me", " acme", "acme\n", "a\x00b", "a/b"])
def test_invalid_tenant_ids(tenant: str) -> None:
    with pytest.raises(ApiKeyError):
        validate_tenant_id(tenant)


@pytest.mark.parametrize("name", ["", "n" * 101, " padded", "padded ", "two\nlines", "tab\there"])
def test_invalid_key_names(name: str) -> None:
    with pytest.raises(ApiKeyError):
        validate_key_name(name)


def test_key_names_may_contain_inner_spaces() -> None:
    assert validate_key_name("checkout service (eu)") == "checkout service (eu)"


# ---- the directory over a fake client ------------------------------------------------------------------


class FakeResult:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.result_rows = rows


class FakeClient:
    """Answers the directory's one query with ``rows``; raises while ``down``."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows
        self.down = False
        self.queries = 0
        self.closed = False

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> FakeResult:
        assert "FROM api_keys FINAL" in sql
        self.queries += 1
        if self.down:
            raise ConnectionError("ClickHouse unreachable")
        return FakeResult(list(self.rows))

    def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _directory(rows: list[tuple[Any, ...]], clock: Clock | None = None) -> ApiKeyDirectory:
    fake = FakeClient(rows)
    directory = ApiKeyDirectory(lambda: cast(Client, fake), clock=clock or Clock())
    directory.fake = fake  # type: ignore[attr-defined]
    return directory


def _load(directory: ApiKeyDirectory) -> None:
    assert asyncio.run(directory.refresh())


def test_lookup_refuses_malformed_unknown_wrong_and_revoked_keys() -> None:
    other = "fedcba987654"
    directory = _directory(
        [
            (KEY_ID, "acme", "backend", hash_secret(SECRET), None),
            (other, "acme", "old", hash_secret(SECRET), "2027-01-01"),
        ]
    )
    assert directory.lookup(f"ak_{KEY_ID}_{SECRET}") is None  # nothing loaded yet: fails closed
    _load(directory)
    assert len(directory) == 1
    assert directory.lookup(f"ak_{KEY_ID}_{SECRET}") == ApiKeyIdentity(KEY_ID, "acme", "backend")
    assert directory.lookup(f"ak_{other}_{SECRET}") is None
    assert directory.lookup(f"ak_{KEY_ID}_{SECRET}"[:-1]) is None
    assert directory.lookup("junk") is None


async def test_unknown_key_ids_refresh_early_at_most_once_per_interval() -> None:
    clock = Clock()
    directory = _directory([], clock)
    fake: FakeClient = directory.fake  # type: ignore[attr-defined]
    assert await directory.refresh() and fake.queries == 1
    fake.rows = [(KEY_ID, "acme", "backend", hash_secret(SECRET), None)]
    key = f"ak_{KEY_ID}_{SECRET}"
    assert await directory.authenticate(key) is None  # the periodic refresh just ran: no early one
    assert fake.queries == 1
    clock.now += 1.0
    assert await directory.authenticate(key) == ApiKeyIdentity(KEY_ID, "acme", "backend")
    assert fake.queries == 2
    for _ in range(100):  # junk key ids within the interval: no more queries
        assert await directory.authenticate(f"ak_{secrets.token_hex(6)}_{SECRET}") is None
        assert directory.lookup(f"ak_{secrets.token_hex(6)}_{SECRET}") is None
    assert fake.queries == 2
    assert directory.lookup("not a key") is None and fake.queries == 2  # malformed: never a refresh


async def test_a_synchronous_lookup_starts_the_early_refresh_in_the_background() -> None:
    clock = Clock()
    directory = _directory([], clock)
    fake: FakeClient = directory.fake  # type: ignore[attr-defined]
    await directory.refresh()
    fake.rows = [(KEY_ID, "acme", "backend", hash_secret(SECRET), None)]
    clock.now += 5
    key = f"ak_{KEY_ID}_{SECRET}"
    assert directory.lookup(key) is None
    task = directory._early_task
    assert task is not None
    assert directory.lookup(key) is None and directory._early_task is task  # one refresh at a time
    await task
    assert directory.lookup(key) == ApiKeyIdentity(KEY_ID, "acme", "backend")
    assert fake.queries == 2
    await directory.close()
    assert fake.closed


async def test_a_failed_refresh_keeps_the_last_good_snapshot(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    directory = _directory([(KEY_ID, "acme", "backend", hash_secret(SECRET), None)], clock)
    fake: FakeClient = directory.fake  # type: ignore[attr-defined]
    await directory.refresh()
    fake.down = True
    clock.now += 5
    assert not await directory.refresh()
    assert directory.lookup(f"ak_{KEY_ID}_{SECRET}") == ApiKeyIdentity(KEY_ID, "acme", "backend")
    assert "API keys not refreshed (keeping the snapshot of 5 s ago)" in caplog.text
    assert fake.closed  # a client that failed is replaced on the next refresh
    assert directory.snapshot_age_s == 5
    fake.down = False
    assert await directory.refresh() and directory.snapshot_age_s == 0
