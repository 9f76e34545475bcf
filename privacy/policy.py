"""Privacy at the gateway: what is done to a client's IP address and user agent before an event reaches
Kafka, so nothing downstream (topics, dead letters, raw tables, backups) ever holds more than the tenant
allowed. Pure functions and values, no I/O; :mod:`privacy.directory` knows each tenant's
choice.

IP handling (``TenantSettings.ip_handling``):

- ``store``: the address as received.
- ``truncate``: IPv4 to its /24 (last octet zeroed), IPv6 to its /48 (last 80 bits zeroed) — the common
  analytics convention (Google Analytics' IP anonymisation does exactly this). A /48 is typically one
  site's allocation, so it still tells country and network for geo reports, not the household. An
  IPv4-mapped IPv6 address (``::ffff:a.b.c.d``) is an IPv4 client behind a dual-stack socket and is
  truncated as IPv4; a 6to4 address (``2002::/16``) carries the client's IPv4 in bits 16–48, so it is cut
  at /40, which keeps only the first three octets of that IPv4.
- ``hash``: ``h:`` + the first 32 hex digits (128 bits) of HMAC-SHA256(day salt, packed address). The
  same address gives the same value all day (unique visitors), a different one the next day, and without
  the secret nobody can recompute it (an unkeyed hash of the 2^32 IPv4 addresses is reversed in seconds).
  The ``h:`` prefix keeps a hash from ever being read as an address (geo lookups, abuse reports); 34
  characters fit the 45 of the seed's ``VARCHAR(45)``.
- ``drop``: no address at all.

Anything but ``store`` fails closed: an address that does not parse becomes ``None``.

Day salts are ``HMAC-SHA256(secret, "ip-salt:" + ISO day)``: every gateway process derives the same salt
from the same secret without sharing state, and it changes at midnight UTC of the day the caller passes
(the day of ``received_at``). Holders of the secret can re-derive any day's salt, hence reverse hashes by
brute force: keep ``ANALYTICS_PRIVACY_SECRET`` as secret as a signing key, and change it to make all
earlier hashes unlinkable to anything new. Without a configured secret the gateway uses a random one per
process (:class:`~privacy.directory.TenantPrivacyDirectory` logs a warning): hashes stay
private and consistent within a process — right for the one process of ``analytics dev`` — but two
gateway processes, or one restarted, give one address two values.

User agents are parsed with ua-parser (uap-core's regexes, Rust accelerator) into
:class:`ClientInfo`, placed on the message as flat fields (the raw table's columns); the tenant may drop
the raw string afterwards (``TenantSettings.user_agent_handling``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Annotated, Any, NamedTuple

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from plumbing.settings import ENV_CONFIG, PLACEHOLDER
from schemas.messages import HASHED_IP_HEX_DIGITS, HASHED_IP_PREFIX
from schemas.tenant_config import IpHandling

IPV4_PREFIX = 24
IPV6_PREFIX = 48
SIXTOFOUR_PREFIX = 40
"""6to4 (``2002:AABB:CCDD::/48``) embeds the client's IPv4 in bits 16-48; /40 keeps its first three octets."""
_SIXTOFOUR = int(IPv6Address("2002::")) >> 112
MAX_CLIENT_FIELD = 64
"""Longest parsed user-agent field kept (uap-core's replacements may copy long parts of the string)."""


class PrivacySettings(BaseSettings):
    """``ANALYTICS_PRIVACY_*``: the deployment's part of privacy handling (the tenants' is in
    ``tenant_settings``)."""

    model_config = ENV_CONFIG

    privacy_secret: Annotated[SecretStr, Field(min_length=16)] | None = None
    """Key of the daily IP-hash salts; the same on every gateway process. Unset: random per process."""
    privacy_keep_user_agent: bool = True
    """``false`` drops every tenant's raw user agent (parsed fields are kept); ``true`` leaves it to each
    tenant's ``user_agent_handling``."""
    privacy_refresh_s: float = Field(30.0, gt=0)
    """How often a gateway re-reads tenants' IP and user-agent handling from ``tenant_settings``."""

    def secret_bytes(self) -> bytes | None:
        if self.privacy_secret is None:
            return None
        secret = self.privacy_secret.get_secret_value()
        if PLACEHOLDER in secret:  # the shipped manifests' placeholder is public
            raise ValueError("ANALYTICS_PRIVACY_SECRET is still the placeholder: set a random one")
        return secret.encode()


# ---- IP addresses --------------------------------------------------------------------------------------


def day_salt(secret: bytes, day: date) -> bytes:
    """The IP-hash salt of ``day``: derived, not stored, so every process agrees and it rotates daily."""
    if isinstance(day, datetime):  # a subclass of date whose isoformat() would give a salt per instant
        raise TypeError("day_salt() takes a date, not a datetime")
    return hmac.new(secret, b"ip-salt:" + day.isoformat().encode(), hashlib.sha256).digest()


def _parse(ip: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=65_536)
def truncate_ip(ip: str) -> str | None:
    """The address with its host part zeroed (see the module docstring); ``None`` if it does not parse."""
    address = _parse(ip)
    if address is None:
        return None
    if isinstance(address, IPv4Address):
        return str(IPv4Address(int(address) >> (32 - IPV4_PREFIX) << (32 - IPV4_PREFIX)))
    bits = SIXTOFOUR_PREFIX if int(address) >> 112 == _SIXTOFOUR else IPV6_PREFIX
    return str(IPv6Address(int(address) >> (128 - bits) << (128 - bits)))  # the int drops any %zone


@lru_cache(maxsize=65_536)
def hash_ip(ip: str, salt: bytes) -> str | None:
    """``h:`` + 32 hex digits of HMAC-SHA256(salt, packed address); equal spellings of one address (case,
    zero compression, IPv4-mapped) hash alike. ``None`` if it does not parse."""
    address = _parse(ip)
    if address is None:
        return None
    digest = hmac.new(salt, address.packed, hashlib.sha256).hexdigest()
    return HASHED_IP_PREFIX + digest[:HASHED_IP_HEX_DIGITS]


MIN_SALT_BYTES = 16


def apply_ip_handling(ip: str | None, mode: IpHandling | str, day_salt: bytes) -> str | None:
    """What of ``ip`` may be kept under ``mode``; ``day_salt`` is only used by ``hash``, which refuses a
    salt shorter than 16 bytes (an empty key would make the hash anyone's to recompute)."""
    if ip is None or mode == IpHandling.STORE:
        return ip
    if mode == IpHandling.TRUNCATE:
        return truncate_ip(ip)
    if mode == IpHandling.HASH:
        if len(day_salt) < MIN_SALT_BYTES:
            raise ValueError("IP hashing needs a day salt (privacy.policy.day_salt)")
        return hash_ip(ip, day_salt)
    if mode == IpHandling.DROP:
        return None
    raise ValueError(f"unknown IP handling {mode!r}")


# ---- user agents ---------------------------------------------------------------------------------------


class ClientInfo(NamedTuple):
    """What a user agent says about the client. ``""``: no user agent; ``"Other"``: uap-core knows none
    (its convention; e.g. the device of a desktop browser). Crawlers have ``device == "Spider"``."""

    browser: str = ""
    browser_version: str = ""
    os: str = ""
    os_version: str = ""
    device: str = ""


CLIENT_FIELDS = ClientInfo._fields
"""Names of the parsed fields, on Kafka messages and raw-table columns alike."""
NO_CLIENT = ClientInfo()


@lru_cache(maxsize=1)
def _resolver() -> Any:
    """ua-parser's fastest available resolver (Rust regex engine when ``ua-parser-rs`` is installed), with
    no cache of its own: :func:`parse_user_agent` caches the finished :class:`ClientInfo`."""
    import ua_parser

    if ua_parser.RegexResolver is not None:
        return ua_parser.RegexResolver(ua_parser.load_lazy_builtins())
    return ua_parser.BasicResolver(ua_parser.load_builtins())


def _version(*parts: str | None) -> str:
    kept = []
    for part in parts:
        if part is None:
            break
        kept.append(part)
    return ".".join(kept)[:MAX_CLIENT_FIELD]


@lru_cache(maxsize=8192)
def _parse_user_agent(ua: str) -> ClientInfo:
    from ua_parser import Domain

    result = _resolver()(ua, Domain.ALL).complete().with_defaults()
    agent, system = result.user_agent, result.os
    return ClientInfo(
        browser=agent.family[:MAX_CLIENT_FIELD],
        browser_version=_version(agent.major, agent.minor, agent.patch),
        os=system.family[:MAX_CLIENT_FIELD],
        os_version=_version(system.major, system.minor, system.patch),
        device=result.device.family[:MAX_CLIENT_FIELD],
    )


def parse_user_agent(ua: str | None) -> ClientInfo:
    """Browser, OS and device of ``ua`` (versions as ``major.minor.patch``, as far as known). User agents
    repeat a lot and parsing one costs far more than a cache lookup, so results are cached
    (ADR 0007, "Measurements")."""
    if not ua:
        return NO_CLIENT
    return _parse_user_agent(ua)


@lru_cache(maxsize=8192)
def _client_fields(ua: str) -> dict[str, str]:
    """:func:`parse_user_agent` as message fields, ready to merge (callers must not change the dict)."""
    return _parse_user_agent(ua)._asdict()


def warm_up_user_agent_parser() -> None:
    """Build the parser now (compiling uap-core's regexes takes a fraction of a second), so the first
    request does not pay for it. Blocking: call it off the event loop."""
    parse_user_agent(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
    )


# ---- per-request policy --------------------------------------------------------------------------------


FREE_FORM_IP_KEYS = ("ip_address", "ip", "client_ip")
FREE_FORM_AGENT_KEYS = ("user_agent",)


@dataclass(frozen=True, slots=True)
class PrivacyPolicy:
    """What the gateway does to one tenant's events of one day."""

    ip_handling: IpHandling = IpHandling.STORE
    day_salt: bytes = b""
    """Salt of ``hash`` (:func:`day_salt`); unused by the other modes."""
    keep_user_agent: bool = True
    """``False``: the raw user agent is dropped once parsed."""

    def __post_init__(self) -> None:
        if self.ip_handling == IpHandling.HASH and len(self.day_salt) < MIN_SALT_BYTES:
            raise ValueError("a hash policy needs a day salt (privacy.policy.day_salt)")

    def apply(self, message: dict[str, Any]) -> None:
        """Apply the policy in place to a stamped message that may carry ``ip_address``/``user_agent``
        (events do, and their message model declares the parsed fields; other streams pass through
        untouched). Parsed fields are added only when there is a user agent, so messages without one stay
        as small as before."""
        ip = message.get("ip_address")
        if ip is not None and self.ip_handling != IpHandling.STORE:
            message["ip_address"] = apply_ip_handling(ip, self.ip_handling, self.day_salt)
        ua = message.get("user_agent")
        if ua:
            message.update(_client_fields(ua))
            if not self.keep_user_agent:
                message["user_agent"] = None
        for name in ("metadata", "details"):  # activities: the seed's own example logs the client there
            fields = message.get(name)
            if isinstance(fields, dict):
                self._apply_to_free_form(fields)

    def _apply_to_free_form(self, fields: dict[str, Any]) -> None:
        """IPs and user agents under the known keys of a free-form object (other keys are the client's
        responsibility, see docs/privacy.md)."""
        for key in FREE_FORM_IP_KEYS:
            value = fields.get(key)
            if isinstance(value, str) and self.ip_handling != IpHandling.STORE:
                fields[key] = apply_ip_handling(value, self.ip_handling, self.day_salt)
        if not self.keep_user_agent:
            for key in FREE_FORM_AGENT_KEYS:
                if key in fields:
                    fields[key] = None


__all__ = [
    "CLIENT_FIELDS",
    "ClientInfo",
    "PrivacyPolicy",
    "PrivacySettings",
    "apply_ip_handling",
    "day_salt",
    "hash_ip",
    "parse_user_agent",
    "truncate_ip",
    "warm_up_user_agent_parser",
]
