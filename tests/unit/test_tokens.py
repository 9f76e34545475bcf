"""JWT verification: what is accepted, and the exact 401 reason for what is not."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import SecretStr

from security.principal import Role
from security.tokens import AuthConfigError, AuthError, AuthSettings, mint_token
from tests.support.auth import TEST_SECRET, token


def auth(**chosen: object) -> AuthSettings:
    """Settings with only ``chosen`` key sources (the test session's environment sets a secret)."""
    sources: dict[str, object] = {"auth_jwt_secret": None, "auth_jwt_public_key": None, "auth_jwks_url": None}
    return AuthSettings(**{**sources, **chosen})  # type: ignore[arg-type]


HS = auth(auth_jwt_secret=SecretStr(TEST_SECRET))


def claims(**extra: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {"sub": "u1", "tenant_id": "acme", "roles": ["user"], "exp": now + 60}
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


async def verify(settings: AuthSettings, raw: str) -> object:
    return await settings.verifier().verify(raw)


async def test_a_valid_token_gives_its_principal() -> None:
    principal = await HS.verifier().verify(token("u1", "acme", ["user", "service", "astronaut"]))
    assert (principal.subject, principal.tenant_id) == ("u1", "acme")
    assert principal.roles == frozenset({Role.USER, Role.SERVICE})  # unknown roles are ignored
    assert principal.privileged and not principal.api_key


@pytest.mark.parametrize(
    ("payload", "reason"),
    [  # built when the test runs: tokens made at collection time would expire in a long session
        (lambda: claims(exp=int(time.time()) - 120), "token expired"),
        (lambda: claims(nbf=int(time.time()) + 600), "token not valid yet (nbf)"),
        (lambda: claims(tenant_id=None), "token lacks the 'tenant_id' claim"),
        (lambda: claims(exp=None), "token lacks the 'exp' claim"),
        (lambda: claims(sub=None), "token lacks the 'sub' claim"),
        (lambda: claims(sub="x" * 37), "'sub' must be a string of 1-36 characters"),
        (lambda: claims(roles={"admin": True}), "'roles' must be a list of strings"),
    ],
)
async def test_refused_tokens_say_why(payload: Callable[[], dict[str, object]], reason: str) -> None:
    raw = jwt.encode(payload(), TEST_SECRET, algorithm="HS256")
    with pytest.raises(AuthError) as refused:
        await HS.verifier().verify(raw)
    assert str(refused.value) == reason


async def test_a_verified_token_is_reused_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = auth(auth_jwt_secret=SecretStr(TEST_SECRET), auth_leeway_s=0).verifier()
    decoded: list[str] = []
    real_decode = jwt.decode

    def counting_decode(raw: str, *args: object, **kwargs: object) -> object:
        decoded.append(raw)
        return real_decode(raw, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counting_decode)
    lasting = jwt.encode(claims(), TEST_SECRET, algorithm="HS256")
    first, again = await verifier.verify(lasting), await verifier.verify(lasting)
    assert first == again and first.subject == "u1" and decoded == [lasting]  # verified once
    other = jwt.encode(claims(sub="u2"), TEST_SECRET, algorithm="HS256")
    assert (await verifier.verify(other)).subject == "u2" and decoded == [lasting, other]

    # reused no longer than the token is valid: once expired, it is verified again and refused
    brief = jwt.encode(claims(exp=int(time.time()) + 1), TEST_SECRET, algorithm="HS256")
    assert (await verifier.verify(brief)).subject == "u1"
    time.sleep(max(0.0, int(time.time()) + 1.05 - time.time()))
    with pytest.raises(AuthError, match="token expired"):
        await verifier.verify(brief)
    assert decoded.count(brief) == 2


async def test_a_refused_token_is_not_remembered() -> None:
    verifier = HS.verifier()
    raw = jwt.encode(claims(sub="x" * 37), TEST_SECRET, algorithm="HS256")
    for _ in range(2):
        with pytest.raises(AuthError, match="'sub' must be"):
            await verifier.verify(raw)


async def test_a_token_expired_within_the_leeway_still_passes() -> None:
    raw = jwt.encode(claims(exp=int(time.time()) - 5), TEST_SECRET, algorithm="HS256")
    assert (await HS.verifier().verify(raw)).subject == "u1"


@pytest.mark.parametrize("raw", ["", "not-a-jwt", "a.b.c"])
async def test_garbage_is_an_invalid_token(raw: str) -> None:
    with pytest.raises(AuthError, match="^invalid token$"):
        await HS.verifier().verify(raw)


async def test_another_secret_is_an_invalid_token() -> None:
    raw = mint_token("another-secret-of-at-least-32-bytes-long!", "u1", "acme", ["admin"])
    with pytest.raises(AuthError, match="^invalid token$"):
        await HS.verifier().verify(raw)


async def test_audience_and_issuer_are_required_when_configured() -> None:
    strict = AuthSettings(
        auth_jwt_secret=SecretStr(TEST_SECRET), auth_jwt_audience="api", auth_jwt_issuer="idp"
    )
    good = jwt.encode(claims(aud="api", iss="idp"), TEST_SECRET, algorithm="HS256")
    assert (await strict.verifier().verify(good)).tenant_id == "acme"
    for payload, reason in (
        (claims(iss="idp"), "token lacks the 'aud' claim"),
        (claims(aud="other", iss="idp"), "token is for another audience"),
        (claims(aud="api", iss="evil"), "token is from another issuer"),
    ):
        with pytest.raises(AuthError) as refused:
            await strict.verifier().verify(jwt.encode(payload, TEST_SECRET, algorithm="HS256"))
        assert str(refused.value) == reason


def _pem(private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


async def test_rs256_and_es256_with_a_public_key(tmp_path: Path) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pem_file = tmp_path / "rsa.pem"
    pem_file.write_text(_pem(rsa_key))
    by_path = auth(auth_jwt_public_key=str(pem_file))
    assert (await verify(by_path, jwt.encode(claims(), rsa_key, algorithm="RS256"))) is not None
    inline = auth(auth_jwt_public_key=_pem(ec_key))
    principal = await inline.verifier().verify(jwt.encode(claims(), ec_key, algorithm="ES256"))
    assert principal.subject == "u1"


async def test_a_token_signed_with_the_public_key_as_hmac_secret_is_refused() -> None:
    """Algorithm confusion: with a public key configured, HS256 is not among the accepted algorithms."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = _pem(rsa_key)
    forged = jwt.api_jws.PyJWS().encode(
        jwt.utils.force_bytes('{"sub":"u1","tenant_id":"acme","exp":9999999999}'),
        b"x" * 32,
        algorithm="HS256",
    )
    with pytest.raises(AuthError, match="^invalid token$"):
        await auth(auth_jwt_public_key=pem).verifier().verify(forged)
    with pytest.raises(AuthConfigError, match="do not fit"):
        auth(auth_jwt_public_key=pem, auth_jwt_algorithms=["HS256"]).verifier()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (auth(), r"exactly one .* \(0 set\)"),
        (auth(auth_jwt_secret=SecretStr(TEST_SECRET), auth_jwks_url="https://idp/jwks"), r"\(2 set\)"),
        (auth(auth_jwt_secret=SecretStr("short")), "at least 32 bytes"),
    ],
)
def test_a_service_refuses_to_start_without_a_sound_key(settings: AuthSettings, message: str) -> None:
    with pytest.raises(AuthConfigError, match=message):
        settings.verifier()


async def test_a_jwks_url_verifies_tokens_by_their_key_id() -> None:
    """An identity provider's key set, served over HTTP: the token's ``kid`` picks the key."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from jwt.algorithms import RSAAlgorithm

    signing = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(signing.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None: ...

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        verifier = auth(auth_jwks_url=f"http://127.0.0.1:{server.server_port}/jwks").verifier()
        good = jwt.encode(claims(), signing, algorithm="RS256", headers={"kid": "k1"})
        assert (await verifier.verify(good)).tenant_id == "acme"
        forged = jwt.encode(claims(), other, algorithm="RS256", headers={"kid": "k1"})
        with pytest.raises(AuthError, match="^invalid token$"):
            await verifier.verify(forged)
        unknown = jwt.encode(claims(), signing, algorithm="RS256", headers={"kid": "k9"})
        with pytest.raises(AuthError, match="^no signing key for this token"):
            await verifier.verify(unknown)
    finally:
        server.shutdown()


def test_the_shipped_placeholder_secrets_are_refused() -> None:
    placeholder = "REPLACE_ME_WITH_48_RANDOM_BYTES_BASE64_xxxxxxxxxxxxxxxxxxxxxx"  # deploy/k8s/secret.yaml
    with pytest.raises(AuthConfigError, match="placeholder"):
        auth(auth_jwt_secret=SecretStr(placeholder)).verifier()
    from privacy.policy import PrivacySettings

    with pytest.raises(ValueError, match="placeholder"):
        PrivacySettings(privacy_secret=SecretStr("REPLACE_ME_WITH_32_RANDOM_BYTES_xxxxxx")).secret_bytes()


@pytest.mark.parametrize(("claim", "value"), [("sub", "a/b"), ("sub", "x\ny"), ("tenant_id", "t\x1fx")])
async def test_ids_that_urls_cannot_carry_are_refused(claim: str, value: str) -> None:
    raw = jwt.encode(claims(**{claim: value}), TEST_SECRET, algorithm="HS256")
    with pytest.raises(AuthError, match="'/' or control characters"):
        await HS.verifier().verify(raw)
