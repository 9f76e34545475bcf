"""``analytics token`` mints only tokens the services accept with the rights asked for, and refuses every
other request with exit status 2 and the option to change (no token printed)."""

from __future__ import annotations

import jwt
import pytest

from cli.main import main
from tests.support.auth import TEST_SECRET


def run(capsys: pytest.CaptureFixture[str], *options: str) -> tuple[int, str, str]:
    status = main(["token", *options])
    out, err = capsys.readouterr()
    return status, out.strip(), err.strip()


def claims_of(raw: str, **expected: object) -> dict[str, object]:
    decoded: dict[str, object] = jwt.decode(raw, TEST_SECRET, algorithms=["HS256"], **expected)  # type: ignore[arg-type]
    return decoded


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--role", "astronaut"], "--role: unknown role 'astronaut'; the services know admin, "),
        (["--role", "admin,superuser"], "--role: unknown role 'superuser'"),
        (["--role", " , "], "--role: name at least one role of admin, "),
        (["--role", "user"], "--role user may act on its own user id only: name that user with --sub"),
        (["--role", "student,teacher"], "--role student,teacher may act on its own user id only"),
        (["--role", "user", "--sub", "x" * 37], "--sub: 'sub' must be a string of 1-36 characters"),
        (["--role", "user", "--sub", ""], "--sub: 'sub' must be a string of 1-36 characters"),
        (["--sub", "a/b"], "--sub: 'sub' must not contain '/' or control characters"),
        (["--tenant", ""], "--tenant: 'tenant_id' must be 1-"),
        (["--tenant", "acme/other"], "--tenant: 'tenant_id' must be 1-"),
        (["--ttl", "0"], "--ttl: at least 1 second"),
        (["--ttl", "-60"], "--ttl: at least 1 second"),
    ],
)
def test_refused_requests_exit_2_and_say_which_option(
    capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    status, out, err = run(capsys, *options)
    assert (status, out) == (2, "")
    assert err.startswith(f"analytics token: error: {message}"), err


def test_a_weak_secret_is_refused_as_the_services_refuse_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANALYTICS_AUTH_JWT_SECRET", "too-short")
    status, out, err = run(capsys, "--role", "admin")
    assert (status, out) == (2, "")
    assert err == "analytics token: error: ANALYTICS_AUTH_JWT_SECRET must be at least 32 bytes"


@pytest.mark.parametrize(
    ("options", "subject", "tenant", "roles"),
    [
        ([], "dev-admin", "default", ["admin"]),
        (["--role", "service", "--tenant", "acme"], "dev-admin", "acme", ["service"]),
        (["--role", "user", "--sub", "u1"], "u1", "default", ["user"]),
        (["--role", "teacher, student", "--sub", "t1"], "t1", "default", ["teacher", "student"]),
        (["--role", "admin,user"], "dev-admin", "default", ["admin", "user"]),
    ],
)
def test_accepted_requests_print_a_token_with_exactly_those_claims(
    capsys: pytest.CaptureFixture[str], options: list[str], subject: str, tenant: str, roles: list[str]
) -> None:
    status, out, err = run(capsys, *options, "--ttl", "120")
    assert (status, err) == (0, "")
    claims = claims_of(out)
    assert (claims["sub"], claims["tenant_id"], claims["roles"]) == (subject, tenant, roles)
    assert claims["exp"] == claims["iat"] + 120  # type: ignore[operator]


def test_a_configured_audience_and_issuer_are_put_in_the_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANALYTICS_AUTH_JWT_AUDIENCE", "analytics-api")
    monkeypatch.setenv("ANALYTICS_AUTH_JWT_ISSUER", "https://idp.example")
    status, out, _ = run(capsys, "--role", "service")
    assert status == 0
    claims = claims_of(out, audience="analytics-api", issuer="https://idp.example")
    assert (claims["aud"], claims["iss"]) == ("analytics-api", "https://idp.example")
