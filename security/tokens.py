"""Bearer tokens: JWTs verified with PyJWT against an HS256 secret, a PEM public key or a JWKS URL.

Claims: ``sub`` (user or service id), ``tenant_id``, ``roles`` (list), ``exp``; ``nbf`` is honoured when
present and ``aud``/``iss`` are required when configured. Exactly one key source must be configured; a
service refuses to start otherwise (:meth:`AuthSettings.verifier`), so no deployment runs open by accident.
``analytics dev`` is the exception that proves the rule: it generates a local secret (``dev_secret``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jwt
from cachetools import TLRUCache
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from plumbing.settings import ENV_CONFIG, PLACEHOLDER
from schemas.payloads import ID_CHARACTERS, MAX_TENANT_ID_LENGTH, is_tenant_id
from security.principal import Principal, Role

log = logging.getLogger(__name__)

SYMMETRIC = ("HS256", "HS384", "HS512")
ASYMMETRIC = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")
MAX_SUBJECT_LENGTH = 36
"""A subject is a user id for end-user roles, and user ids are at most 36 characters."""
VERIFIED_TOKENS = 10_000
VERIFIED_FOR_S = 60.0
"""A verified token's principal is reused for at most this long (and never past its ``exp`` and leeway):
verifying a JWT again on every request of a dashboard cost the API's one event-loop core about 1 ms each
(CHANGELOG, issue 19), while a token's answer cannot change before it expires, except by the key being
replaced: a JWKS key the provider removes stops within this plus PyJWT's 5-minute key-set cache."""


class AuthError(Exception):
    """The credential is missing or not acceptable: answer 401 with this message."""


class AuthConfigError(Exception):
    """The service is not configured to verify credentials."""


class AuthSettings(BaseSettings):
    model_config = ENV_CONFIG

    auth_jwt_secret: SecretStr | None = None
    """HS256/384/512 shared secret (at least 32 bytes)."""
    auth_jwt_public_key: str | None = None
    """PEM public key (RS*/ES*/PS*), or a path to a PEM file."""
    auth_jwks_url: str | None = None
    """URL of the identity provider's JWKS; keys are cached and refreshed by PyJWT."""
    auth_jwt_algorithms: list[str] = []
    """Accepted algorithms; default: HS256 with a secret, RS256 and ES256 with a public key or JWKS."""
    auth_jwt_audience: str | None = None
    auth_jwt_issuer: str | None = None
    auth_leeway_s: float = 30.0
    """Clock skew tolerated on ``exp`` and ``nbf``."""

    def configured(self) -> bool:
        return any((self.auth_jwt_secret, self.auth_jwt_public_key, self.auth_jwks_url))

    def verifier(self) -> TokenVerifier:
        sources = [s for s in (self.auth_jwt_secret, self.auth_jwt_public_key, self.auth_jwks_url) if s]
        if len(sources) != 1:
            raise AuthConfigError(
                "configure exactly one of ANALYTICS_AUTH_JWT_SECRET, ANALYTICS_AUTH_JWT_PUBLIC_KEY or "
                f"ANALYTICS_AUTH_JWKS_URL ({len(sources)} set)"
            )
        return TokenVerifier(self)


class TokenVerifier:
    def __init__(self, settings: AuthSettings) -> None:
        self._settings = settings
        self._verified: TLRUCache[str, tuple[Principal, float]] = TLRUCache(
            maxsize=VERIFIED_TOKENS, ttu=lambda _token, entry, _now: entry[1], timer=time.time
        )
        """token → its principal and the wall-clock time until which it may be reused"""
        self._jwks: jwt.PyJWKClient | None = None
        self._key: Any
        if settings.auth_jwt_secret is not None:
            secret = settings.auth_jwt_secret.get_secret_value()
            if len(secret.encode()) < 32:
                raise AuthConfigError("ANALYTICS_AUTH_JWT_SECRET must be at least 32 bytes")
            if PLACEHOLDER in secret:  # the shipped manifests' placeholder is public: anyone could sign
                raise AuthConfigError("ANALYTICS_AUTH_JWT_SECRET is still the placeholder: set a random one")
            self._key = secret
            default: Iterable[str] = ("HS256",)
            allowed: tuple[str, ...] = SYMMETRIC
        else:
            if settings.auth_jwks_url:
                # the key set is cached 5 min (a key the provider removes stops within that); no per-kid
                # cache, which PyJWT never expires; a short timeout so an IdP outage cannot hold threads
                self._jwks = jwt.PyJWKClient(
                    settings.auth_jwks_url, cache_keys=False, cache_jwk_set=True, lifespan=300, timeout=5
                )
                self._key = None
            else:
                pem = settings.auth_jwt_public_key or ""
                self._key = Path(pem).read_text() if not pem.lstrip().startswith("-----") else pem
            default, allowed = ("RS256", "ES256"), ASYMMETRIC
        self._algorithms = list(settings.auth_jwt_algorithms or default)
        wrong = [a for a in self._algorithms if a not in allowed]
        if wrong:  # e.g. HS256 with a public key would let anyone sign with the public key as secret
            raise AuthConfigError(f"algorithms {wrong} do not fit the configured key")
        required = ["exp", "sub", "tenant_id"]
        if settings.auth_jwt_audience:
            required.append("aud")
        if settings.auth_jwt_issuer:
            required.append("iss")
        self._options: Any = {"require": required}

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; raises :class:`AuthError` saying what is wrong. A token verified
        in the last :data:`VERIFIED_FOR_S` is not verified again (until its expiry and the leeway)."""
        known = self._verified.get(token)
        if known is not None:
            return known[0]
        key = self._key
        if self._jwks is not None:  # may fetch the key set over HTTP: off the event loop
            try:
                key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            except jwt.PyJWKClientError as exc:
                raise AuthError(f"no signing key for this token: {exc}") from exc
            except jwt.PyJWTError as exc:
                raise AuthError("malformed token") from exc
        claims = self._decode(token, key)
        principal = principal_of(claims)
        now = time.time()
        until = min(now + VERIFIED_FOR_S, float(claims["exp"]) + self._settings.auth_leeway_s)
        if until > now:
            self._verified[token] = (principal, until)
        return principal

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        s = self._settings
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                options=self._options,
                audience=s.auth_jwt_audience,
                issuer=s.auth_jwt_issuer,
                leeway=s.auth_leeway_s,
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise AuthError("token not valid yet (nbf)") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"token lacks the {exc.claim!r} claim") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError("token is for another audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError("token is from another issuer") from exc
        except jwt.PyJWTError as exc:
            raise AuthError("invalid token") from exc
        return claims


def principal_of(claims: dict[str, Any]) -> Principal:
    subject, tenant, roles = claims.get("sub"), claims.get("tenant_id"), claims.get("roles", [])
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_LENGTH:
        raise AuthError(f"'sub' must be a string of 1-{MAX_SUBJECT_LENGTH} characters")
    if not ID_CHARACTERS.fullmatch(subject):
        raise AuthError("'sub' must not contain '/' or control characters")
    if not isinstance(tenant, str) or not is_tenant_id(tenant):
        raise AuthError(
            f"'tenant_id' must be 1-{MAX_TENANT_ID_LENGTH} characters without '/' or control characters"
        )
    if isinstance(roles, str):
        roles = roles.split()
    if not isinstance(roles, list):
        raise AuthError("'roles' must be a list of strings")
    known = frozenset(Role(r) for r in roles if r in Role.__members__.values())
    return Principal(subject, tenant, known)


def mint_token(
    secret: str,
    subject: str,
    tenant_id: str,
    roles: Iterable[str],
    ttl_s: float = 3600,
    algorithm: str = "HS256",
    **claims: Any,
) -> str:
    """An HS256 token for local use, tests and services sharing the secret (identity providers mint
    their own)."""
    now = int(time.time())
    payload = {
        "sub": subject,
        "tenant_id": tenant_id,
        "roles": list(roles),
        "iat": now,
        "exp": now + int(ttl_s),
    }
    payload.update(claims)
    return jwt.encode(payload, secret, algorithm=algorithm)


def dev_secret(folder: Path, name: str = "dev-auth-secret") -> str:
    """One of ``analytics dev``'s local secrets: created once in ``folder`` (readable by its owner only) and
    reused, so tokens printed at one start (and IP hashes) stay valid after a restart."""
    path = folder / name
    if path.exists():
        return path.read_text().strip()
    folder.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret)
    log.info("generated a development secret in %s", path)
    return secret
