"""Ingestion API keys on a real ClickHouse: create → list → authenticate through a directory → revoke →
refused after the next refresh; and ``analytics api-keys`` through argparse, in this process, on the
test's database (the same chDB directory the session already opened, or the server)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

from cli.main import main as cli_main
from plumbing.migrate import migrate
from security.api_key_directory import ApiKeyDirectory
from security.api_key_store import create_key, list_keys, revoke_key
from security.api_keys import ApiKeyIdentity, ApiKeyInfo, parse_key
from tests.conftest import ClickHouseTarget

pytestmark = pytest.mark.clickhouse


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client(clickhouse: ClickHouseTarget) -> Iterator[Client]:
    client = clickhouse.client()
    migrate(client)
    try:
        yield client
    finally:
        client.close()


def _stored_rows(client: Client) -> list[tuple[object, ...]]:
    return [tuple(row) for row in client.query("SELECT * FROM api_keys").result_rows]


async def test_a_key_works_until_revoked_then_stops_after_the_next_refresh(
    clickhouse: ClickHouseTarget, client: Client
) -> None:
    info, plaintext = create_key(client, "acme", "checkout backend")
    parsed = parse_key(plaintext)
    assert parsed is not None and parsed.key_id == info.key_id
    assert info.tenant_id == "acme" and info.active

    (stored,) = _stored_rows(client)
    assert hashlib.sha256(parsed.secret.encode()).hexdigest() in stored
    assert not any(parsed.secret in str(value) for value in stored)

    (listed,) = list_keys(client, "acme")
    assert listed == info == ApiKeyInfo(info.key_id, "acme", "checkout backend", info.created_at, None)
    assert not any(parsed.secret in str(v) or "hash" in k for k, v in listed.to_json().items())

    directory = ApiKeyDirectory(clickhouse.client, clock=Clock())
    try:
        assert await directory.refresh()
        assert directory.lookup(plaintext) == ApiKeyIdentity(info.key_id, "acme", "checkout backend")
        wrong_secret = f"ak_{info.key_id}_{'A' * 43}"
        assert directory.lookup(wrong_secret) is None
        assert await directory.authenticate(wrong_secret) is None

        assert revoke_key(client, info.key_id)
        assert not revoke_key(client, info.key_id)  # already revoked
        assert not revoke_key(client, "000000000000")  # unknown
        assert not revoke_key(client, "not-a-key-id")
        assert directory.lookup(plaintext) is not None  # until the next refresh: the snapshot is in memory
        assert await directory.refresh()
        assert directory.lookup(plaintext) is None
        assert await directory.authenticate(plaintext) is None
        assert len(directory) == 0
    finally:
        await directory.close()

    (revoked,) = list_keys(client)
    assert not revoked.active and revoked.revoked_at is not None and revoked.revoked_at >= revoked.created_at
    assert revoked.created_at == listed.created_at


async def test_keys_stamp_their_own_tenant_and_new_keys_work_after_one_early_refresh(
    clickhouse: ClickHouseTarget, client: Client
) -> None:
    _, acme_key = create_key(client, "acme", "backend")
    clock = Clock()
    directory = ApiKeyDirectory(clickhouse.client, clock=clock)
    try:
        assert await directory.refresh()
        globex, globex_key = create_key(client, "globex", "backend")
        assert directory.lookup(globex_key) is None  # refreshed a moment ago: no early refresh yet
        clock.now += 1.0
        identity = await directory.authenticate(globex_key)  # waits for the early refresh it starts
        assert identity == ApiKeyIdentity(globex.key_id, "globex", "backend")
        acme = directory.lookup(acme_key)
        assert acme is not None and acme.tenant_id == "acme"
        assert directory.lookup(globex_key) == identity
    finally:
        await directory.close()
    assert [k.tenant_id for k in list_keys(client)] == ["acme", "globex"]
    assert [k.key_id for k in list_keys(client, "globex")] == [globex.key_id]
    assert list_keys(client, "initech") == []


async def test_an_unreachable_clickhouse_keeps_the_last_snapshot(
    clickhouse: ClickHouseTarget, client: Client
) -> None:
    info, plaintext = create_key(client, "acme", "backend")
    reachable = True

    def factory() -> Client:
        if not reachable:
            raise ConnectionError("ClickHouse unreachable")
        return clickhouse.client()

    directory = ApiKeyDirectory(factory, clock=Clock())
    try:
        assert await directory.refresh()
        directory._reader.close()  # the next read opens a client again, through the failing factory
        reachable = False
        assert not await directory.refresh()
        assert directory.lookup(plaintext) == ApiKeyIdentity(info.key_id, "acme", "backend")
        reachable = True
        assert await directory.refresh()
    finally:
        await directory.close()


def _run(argv: list[str]) -> int:
    """The ``analytics`` command, in process."""
    return cli_main(argv)


async def test_the_cli_creates_lists_and_revokes_keys(
    clickhouse: ClickHouseTarget, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANALYTICS_CLICKHOUSE_URL", clickhouse.url)
    monkeypatch.setenv("ANALYTICS_CLICKHOUSE_DATABASE", clickhouse.database)

    assert _run(["api-keys", "create", "--tenant", "acme", "--name", "web backend"]) == 0  # migrates first
    out = capsys.readouterr().out
    plaintext = next(line for line in out.splitlines() if line.startswith("ak_"))
    parsed = parse_key(plaintext)
    assert parsed is not None and f"created API key {parsed.key_id} for tenant acme" in out
    assert out.count(parsed.secret) == 1

    assert _run(["api-keys", "create", "--tenant", "globex", "--name", "etl", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["tenant_id"] == "globex" and parse_key(created["key"]) is not None

    assert _run(["api-keys", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(k["tenant_id"], k["name"], k["active"]) for k in listed] == [
        ("acme", "web backend", True),
        ("globex", "etl", True),
    ]
    assert all(
        set(k) == {"key_id", "tenant_id", "name", "created_at", "revoked_at", "active"} for k in listed
    )

    assert _run(["api-keys", "revoke", parsed.key_id]) == 0
    assert f"revoked API key {parsed.key_id}" in capsys.readouterr().out
    assert _run(["api-keys", "revoke", parsed.key_id]) == 1
    assert "unknown or already revoked" in capsys.readouterr().err
    assert _run(["api-keys", "revoke", "000000000000"]) == 1

    assert _run(["api-keys", "list", "--tenant", "acme"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["KEY", "ID", "TENANT", "NAME", "CREATED", "REVOKED"]
    assert parsed.key_id in table and parsed.secret not in table and "1 key(s), 0 active" in table

    assert _run(["api-keys", "create", "--tenant", "has space", "--name", "x"]) == 1
    assert "tenant id" in capsys.readouterr().err

    directory = ApiKeyDirectory(clickhouse.client)
    try:
        assert await directory.refresh()
        assert directory.lookup(plaintext) is None
        assert directory.lookup(created["key"]) == ApiKeyIdentity(created["key_id"], "globex", "etl")
    finally:
        await directory.close()


def test_the_cli_reports_an_unusable_store_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANALYTICS_CLICKHOUSE_URL", "mysql://nowhere")
    assert _run(["api-keys", "list"]) == 1
    assert capsys.readouterr().err.startswith("api-keys: unsupported ClickHouse URL")
