"""``analytics token``: mint an HS256 token only when the services would accept it as asked.

The rules are the services' own, not a copy of them: the roles and claims go through
:func:`principal_of` (which keeps known roles only and checks ``sub`` and ``tenant_id``), a role that it
drops is refused, end-user roles — which may act on their own user id only (:attr:`Principal.privileged`,
the policy table) — need the user id as ``--sub``, and the minted token is verified by the verifier the
services build from the same ``ANALYTICS_AUTH_*`` settings (secret strength, audience, issuer, expiry).
A token the services would refuse is not printed: the command exits 2 and names the option to change.

:mod:`security.tokens` (PyJWT and its crypto backend) is imported by the functions that use it: the
``analytics`` command imports this module to register ``token``, and its ``--help`` must stay quick.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from plumbing.settings import CommonSettings, load_settings
from security.principal import Principal, Role

PRIVILEGED_SUBJECT = "dev-admin"
"""Subject of admin and service tokens minted without ``--sub`` (they act on any user of the tenant)."""


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``token [--sub S] [--tenant T] [--role R,...] [--ttl S]``; sets ``handler``."""
    parser = subparsers.add_parser(
        "token",
        help="mint an HS256 token with ANALYTICS_AUTH_JWT_SECRET (or analytics dev's local secret)",
    )
    parser.add_argument(
        "--sub",
        help="subject: the user id (required for end-user roles; default dev-admin for admin/service)",
    )
    parser.add_argument("--tenant", help="tenant (default: ANALYTICS_DEFAULT_TENANT)")
    parser.add_argument(
        "--role", default="admin", help="comma-separated roles: admin, service, user, student, teacher"
    )
    parser.add_argument("--ttl", type=float, default=3600.0, help="seconds until it expires")
    parser.set_defaults(handler=_cmd_token)


def _cmd_token(args: argparse.Namespace) -> int:
    try:
        print(mint_accepted_token(args.sub, args.tenant, args.role, args.ttl))
    except TokenRefused as exc:
        print(f"analytics token: error: {exc}", file=sys.stderr)
        return 2
    return 0


class TokenRefused(Exception):
    """The token asked for is one the services would refuse, or not grant as asked; the message says
    which option to change."""


def parse_roles(text: str) -> list[str]:
    """``--role``: comma-separated role names, each one the services know."""
    from security.tokens import principal_of

    roles = list(dict.fromkeys(role.strip() for role in text.split(",") if role.strip()))
    if not roles:
        raise TokenRefused(f"--role: name at least one role of {', '.join(Role)}")
    kept = principal_of({"sub": PRIVILEGED_SUBJECT, "tenant_id": "probe", "roles": roles}).roles
    unknown = [role for role in roles if role not in kept]
    if unknown:  # the services ignore unknown roles: the token would lack the rights asked for
        raise TokenRefused(
            f"--role: unknown role {', '.join(map(repr, unknown))}; the services know {', '.join(Role)}"
        )
    return roles


def mint_accepted_token(
    subject: str | None,
    tenant: str | None,
    roles_text: str,
    ttl_s: float,
    settings: CommonSettings | None = None,
) -> str:
    """A token signed with ``ANALYTICS_AUTH_JWT_SECRET`` (or ``analytics dev``'s local secret) that a
    service configured alike accepts with exactly ``roles_text``; raises :class:`TokenRefused` otherwise."""
    from cli.dev_app import dev_auth
    from security.tokens import AuthConfigError, AuthError, mint_token

    settings = settings or load_settings(CommonSettings)
    roles = parse_roles(roles_text)
    if ttl_s < 1:
        raise TokenRefused("--ttl: at least 1 second (the services refuse expired tokens)")
    auth = dev_auth(settings.clickhouse_url)
    if auth.auth_jwt_secret is None:
        raise TokenRefused("only HS256 tokens can be minted here; your identity provider issues the others")
    try:
        verifier = auth.verifier()
    except AuthConfigError as exc:  # the services would not even start with these settings
        raise TokenRefused(str(exc)) from None
    principal = _principal(
        PRIVILEGED_SUBJECT if subject is None else subject,
        settings.default_tenant if tenant is None else tenant,
        roles,
    )
    if subject is None and not principal.privileged:
        raise TokenRefused(
            f"--role {','.join(roles)} may act on its own user id only: name that user with --sub"
        )
    claims = {
        name: value
        for name, value in (("aud", auth.auth_jwt_audience), ("iss", auth.auth_jwt_issuer))
        if value
    }
    token = mint_token(
        auth.auth_jwt_secret.get_secret_value(),
        principal.subject,
        principal.tenant_id,
        roles,
        ttl_s=ttl_s,
        **claims,
    )
    try:  # the round trip every service makes
        asyncio.run(verifier.verify(token))
    except AuthError as exc:
        raise TokenRefused(f"the services would refuse this token: {exc}") from None
    return token


def _principal(subject: str, tenant: str, roles: list[str]) -> Principal:
    """Who the services would take the token's bearer for; a claim they refuse names its option."""
    from security.tokens import AuthError, principal_of

    try:
        return principal_of({"sub": subject, "tenant_id": tenant, "roles": roles})
    except AuthError as exc:
        option = "--sub" if "'sub'" in str(exc) else "--tenant"
        raise TokenRefused(f"{option}: {exc}") from None
