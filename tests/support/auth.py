"""Credentials for tests: the test session's HS256 secret (set in the environment by ``conftest``, so
services and subprocesses verify with it) and tokens minted with it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from security.tokens import mint_token

TEST_SECRET = "tests-only-hs256-secret-0123456789-abcdefghijklmnop"
TENANT = "default"
"""The tenant of tests that do not care about tenancy (the deployment's default tenant)."""


def token(
    sub: str = "test-admin",
    tenant: str = TENANT,
    roles: Iterable[str] = ("admin",),
    ttl_s: float = 3600,
    **claims: Any,
) -> str:
    return mint_token(TEST_SECRET, sub, tenant, roles, ttl_s=ttl_s, **claims)


def bearer(
    sub: str = "test-admin", tenant: str = TENANT, roles: Iterable[str] = ("admin",)
) -> dict[str, str]:
    """``Authorization`` header of a token (default: an admin of the default tenant)."""
    return {"authorization": f"Bearer {token(sub, tenant, roles)}"}
