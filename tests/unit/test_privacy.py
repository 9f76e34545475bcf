"""Privacy at the gateway: IP handling in every mode, daily salts, user-agent parsing, the policy applied
by ``stamp()``, and the tenant directory's snapshot behaviour (with a stand-in for the ClickHouse client)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import re
from datetime import UTC, date, datetime
from typing import Any, cast

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from ingest_gateway.stamping import stamp
from plumbing.migrate import load_migrations
from privacy.directory import TenantPrivacyDirectory
from privacy.policy import (
    CLIENT_FIELDS,
    ClientInfo,
    PrivacyPolicy,
    PrivacySettings,
    apply_ip_handling,
    day_salt,
    parse_user_agent,
    truncate_ip,
)
from schemas.enums import clickhouse_enum8
from schemas.lms_messages import LMS_MESSAGES
from schemas.lms_payloads import LMS_PAYLOADS
from schemas.lms_payloads import message_fields as lms_message_fields
from schemas.messages import MESSAGE_MODELS
from schemas.payloads import PAYLOAD_MODELS, AnalyticsEventCreate
from schemas.tenant_config import IpHandling, TenantSettings, UserAgentHandling
from schemas.topics import LMS_STREAMS, PRODUCT_STREAMS, Stream
from tests.support.examples import example, examples

SECRET = b"a test secret of enough length"
DAY = date(2027, 1, 5)
SALT = day_salt(SECRET, DAY)
RECEIVED = datetime(2027, 1, 5, 12, tzinfo=UTC)
HASHED = re.compile(r"h:[0-9a-f]{32}")

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.6478.127 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.6422.165 Mobile Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"


# ---- IP addresses --------------------------------------------------------------------------------------


@pytest.mark.parametrize("ip", ["203.0.113.77", "2001:db8:85a3:8d3:1319:8a2e:370:7348"])
def test_store_keeps_the_address_as_received(ip: str) -> None:
    assert apply_ip_handling(ip, IpHandling.STORE, SALT) == ip
    assert apply_ip_handling(ip, "store", SALT) == ip  # stored settings carry plain strings


@pytest.mark.parametrize(
    ("ip", "truncated"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("10.1.2.255", "10.1.2.0"),
        ("2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3::"),
        ("2001:DB8:85A3::1", "2001:db8:85a3::"),
        ("fe80::1:2:3:4%eth0", "fe80::"),  # the zone id goes too
        ("::ffff:198.51.100.23", "198.51.100.0"),  # IPv4-mapped: an IPv4 client
        ("2002:c633:6417::1", "2002:c633:6400::"),  # 6to4 of 198.51.100.23: its last octet goes too
    ],
)
def test_truncate_zeroes_the_last_ipv4_octet_and_the_last_80_ipv6_bits(ip: str, truncated: str) -> None:
    assert apply_ip_handling(ip, IpHandling.TRUNCATE, SALT) == truncated


@pytest.mark.parametrize("ip", ["203.0.113.77", "2001:db8:85a3:8d3:1319:8a2e:370:7348"])
def test_hash_is_a_keyed_prefixed_digest_stable_within_a_day(ip: str) -> None:
    hashed = apply_ip_handling(ip, IpHandling.HASH, SALT)
    assert hashed is not None and HASHED.fullmatch(hashed) and len(hashed) <= 45
    assert apply_ip_handling(ip, IpHandling.HASH, day_salt(SECRET, DAY)) == hashed  # every process, all day
    expected = hmac.new(SALT, ipaddress.ip_address(ip).packed, hashlib.sha256).hexdigest()
    assert hashed == "h:" + expected[:32]
    next_day = apply_ip_handling(ip, IpHandling.HASH, day_salt(SECRET, date(2027, 1, 6)))
    assert next_day is not None and next_day != hashed  # not joinable across days
    other_secret = apply_ip_handling(ip, IpHandling.HASH, day_salt(b"another secret entirely", DAY))
    assert other_secret != hashed
    assert apply_ip_handling("203.0.113.78", IpHandling.HASH, SALT) != apply_ip_handling(
        "203.0.113.77", IpHandling.HASH, SALT
    )


def test_hash_treats_spellings_of_one_address_alike() -> None:
    def hashed(ip: str) -> str | None:
        return apply_ip_handling(ip, IpHandling.HASH, SALT)

    assert hashed("2001:db8::1") == hashed("2001:DB8:0:0:0:0:0:1")
    assert hashed("::ffff:203.0.113.77") == hashed("203.0.113.77")


@pytest.mark.parametrize("ip", ["203.0.113.77", "2001:db8::1"])
def test_drop_keeps_nothing(ip: str) -> None:
    assert apply_ip_handling(ip, IpHandling.DROP, SALT) is None


@pytest.mark.parametrize("mode", list(IpHandling))
def test_no_address_stays_none_in_every_mode(mode: IpHandling) -> None:
    assert apply_ip_handling(None, mode, SALT) is None


@pytest.mark.parametrize("ip", ["not an address", "256.1.1.1", "1.2.3", "", "h:" + "0" * 32])
def test_what_does_not_parse_is_dropped_unless_stored_as_is(ip: str) -> None:
    assert apply_ip_handling(ip, IpHandling.TRUNCATE, SALT) is None
    assert apply_ip_handling(ip, IpHandling.HASH, SALT) is None
    assert apply_ip_handling(ip, IpHandling.STORE, SALT) == ip


def test_unknown_mode_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown IP handling"):
        apply_ip_handling("203.0.113.77", "shout", SALT)


def test_hashing_without_a_salt_is_refused() -> None:
    with pytest.raises(ValueError, match="day salt"):
        apply_ip_handling("203.0.113.77", IpHandling.HASH, b"")
    with pytest.raises(ValueError, match="day salt"):
        PrivacyPolicy(IpHandling.HASH)


def test_day_salt_is_hmac_of_the_iso_day_and_rotates_daily() -> None:
    assert day_salt(SECRET, DAY) == hmac.new(SECRET, b"ip-salt:2027-01-05", hashlib.sha256).digest()
    salts = {day_salt(SECRET, date(2027, 1, d)) for d in range(1, 32)}
    assert len(salts) == 31
    assert day_salt(b"another secret entirely", DAY) != SALT
    with pytest.raises(TypeError, match="not a datetime"):
        day_salt(SECRET, RECEIVED)


# ---- user agents ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ua", "client"),
    [
        (CHROME_WINDOWS, ClientInfo("Chrome", "126.0.6478", "Windows", "10", "Other")),
        (SAFARI_IPHONE, ClientInfo("Mobile Safari", "17.5", "iOS", "17.5.1", "iPhone")),
        (CHROME_ANDROID, ClientInfo("Chrome Mobile", "125.0.6422", "Android", "14", "Samsung SM-S918B")),
        (GOOGLEBOT, ClientInfo("Googlebot", "2.1", "Other", "", "Spider")),
        (FIREFOX_LINUX, ClientInfo("Firefox", "127.0", "Linux", "", "Other")),
        ("curl/8.5.0", ClientInfo("curl", "8.5.0", "Other", "", "Other")),
        ("something nobody sends", ClientInfo("Other", "", "Other", "", "Other")),
    ],
)
def test_user_agents_parse_into_browser_os_and_device(ua: str, client: ClientInfo) -> None:
    assert parse_user_agent(ua) == client


@pytest.mark.parametrize("ua", [None, ""])
def test_no_user_agent_parses_to_empty_fields(ua: str | None) -> None:
    assert parse_user_agent(ua) == ClientInfo("", "", "", "", "")


def test_parsed_user_agents_are_cached() -> None:
    from privacy.policy import _parse_user_agent

    ua = CHROME_WINDOWS + " cache-probe"
    before = _parse_user_agent.cache_info().hits
    assert parse_user_agent(ua) is parse_user_agent(ua)
    assert _parse_user_agent.cache_info().hits == before + 1


def test_parsed_fields_are_bounded() -> None:
    client = parse_user_agent("Mozilla/5.0 (compatible; " + "X" * 300 + "bot/1.0)")
    assert all(len(value) <= 64 for value in client)


# ---- stamp() with and without a policy -----------------------------------------------------------------


def _event(**changes: Any) -> AnalyticsEventCreate:
    body = {**example(Stream.EVENTS, "valid_seed_button_click.json"), "user_agent": SAFARI_IPHONE, **changes}
    return AnalyticsEventCreate.model_validate(body)


SERVER_FIELDS = {"id", "tenant_id", "received_at", "schema_version", "time_clamped", "client_keyed"}


def test_without_a_policy_the_message_keeps_the_payloads_fields_and_gains_no_others() -> None:
    server = SERVER_FIELDS
    for stream in PRODUCT_STREAMS:
        for _, body in examples(stream, "valid"):
            payload = PAYLOAD_MODELS[stream].model_validate(body)
            plain = stamp(payload, "acme", RECEIVED)
            dumped = payload.model_dump(mode="json")
            assert set(plain) == set(dumped) | server
            if stream is Stream.EVENTS:
                assert (plain["ip_address"], plain["user_agent"]) == (
                    dumped["ip_address"],
                    dumped["user_agent"],
                )


def test_without_a_policy_an_lms_message_is_its_contract_fields_with_the_stamps() -> None:
    for stream in LMS_STREAMS:
        for name, body in examples(stream, "valid"):
            payload = LMS_PAYLOADS[stream].model_validate(body)
            plain = stamp(payload, "acme", RECEIVED)
            assert set(plain) == set(lms_message_fields(payload)) | SERVER_FIELDS | {"timestamp"}, name
            LMS_MESSAGES[stream].model_validate(plain)


@pytest.mark.parametrize("mode", list(IpHandling))
@pytest.mark.parametrize("keep_user_agent", [True, False])
def test_lms_activity_follows_the_tenants_ip_and_user_agent_handling(
    mode: IpHandling, keep_user_agent: bool
) -> None:
    """A learner's address and browser are handled as a product user's (ADR 0015); entity upserts and
    telemetry carry neither, so the policy leaves them as they are."""
    body = example(Stream.LMS_ACTIVITY, "valid_login_with_client.json")
    payload = LMS_PAYLOADS[Stream.LMS_ACTIVITY].model_validate(body)
    policy = PrivacyPolicy(mode, SALT, keep_user_agent=keep_user_agent)
    message = stamp(payload, "acme", RECEIVED, privacy=policy)
    assert message["ip_address"] == apply_ip_handling(body["ip_address"], mode, SALT)
    assert message["user_agent"] == (body["user_agent"] if keep_user_agent else None)
    assert {k: message[k] for k in CLIENT_FIELDS} == parse_user_agent(body["user_agent"])._asdict()
    stored = LMS_MESSAGES[Stream.LMS_ACTIVITY].model_validate(orjson.loads(orjson.dumps(message)))
    assert (stored.ip_address, stored.browser) == (message["ip_address"], "Safari")
    assert stored.user_id == "teacher:7" and stored.lms_user_id == 7
    for stream in (Stream.LMS_ENTITIES, Stream.LMS_TELEMETRY):
        for _, other in examples(stream, "valid"):
            fixed = LMS_PAYLOADS[stream].model_validate(
                {**other, "id": "0190f5b8-6a7e-7c2d-8e1f-3a4b5c6d7e8f"}
            )
            assert stamp(fixed, "acme", RECEIVED, privacy=policy) == stamp(fixed, "acme", RECEIVED)


@pytest.mark.parametrize(
    ("mode", "stored"),
    [
        (IpHandling.STORE, "192.168.1.1"),
        (IpHandling.TRUNCATE, "192.168.1.0"),
        (IpHandling.HASH, apply_ip_handling("192.168.1.1", IpHandling.HASH, SALT)),
        (IpHandling.DROP, None),
    ],
)
@pytest.mark.parametrize("keep_user_agent", [True, False])
def test_policy_applies_ip_handling_and_parses_the_user_agent(
    mode: IpHandling, stored: str | None, keep_user_agent: bool
) -> None:
    policy = PrivacyPolicy(mode, SALT, keep_user_agent=keep_user_agent)
    message = stamp(_event(), "acme", RECEIVED, privacy=policy)
    assert message["ip_address"] == stored
    assert message["user_agent"] == (SAFARI_IPHONE if keep_user_agent else None)
    assert {k: message[k] for k in CLIENT_FIELDS} == parse_user_agent(SAFARI_IPHONE)._asdict()
    decoded = MESSAGE_MODELS[Stream.EVENTS].model_validate_json(orjson.dumps(message))
    assert decoded.ip_address == stored  # type: ignore[attr-defined]
    assert decoded.device == "iPhone"  # type: ignore[attr-defined]


def test_policy_leaves_events_without_address_or_user_agent_and_other_streams_alone() -> None:
    policy = PrivacyPolicy(IpHandling.HASH, SALT, keep_user_agent=False)
    bare = stamp(_event(user_agent=None, ip_address=None), "acme", RECEIVED, privacy=policy)
    assert bare == {**stamp(_event(user_agent=None, ip_address=None), "acme", RECEIVED), "id": bare["id"]}
    for stream in (Stream.PERFORMANCE, Stream.USAGE):
        for _, body in examples(stream, "valid"):
            payload = PAYLOAD_MODELS[stream].model_validate(
                {**body, "id": "0190f5b8-6a7e-7c2d-8e1f-3a4b5c6d7e8f"}
            )
            assert stamp(payload, "acme", RECEIVED, privacy=policy) == stamp(payload, "acme", RECEIVED)


def test_activities_free_form_client_fields_follow_the_policy() -> None:
    """The seed's own activity example logs the client's address and user agent in ``metadata``."""
    body = {**example(Stream.ACTIVITIES, "valid_seed_project_created.json"), "id": None}
    payload = PAYLOAD_MODELS[Stream.ACTIVITIES].model_validate(body)
    kept = stamp(payload, "acme", RECEIVED)
    assert kept["metadata"]["ip_address"] and kept["metadata"]["user_agent"]
    truncated = stamp(payload, "acme", RECEIVED, privacy=PrivacyPolicy(IpHandling.TRUNCATE, SALT, False))
    assert truncated["metadata"]["ip_address"] == truncate_ip(kept["metadata"]["ip_address"])
    assert truncated["metadata"]["user_agent"] is None
    dropped = stamp(payload, "acme", RECEIVED, privacy=PrivacyPolicy(IpHandling.DROP, SALT, True))
    assert dropped["metadata"]["ip_address"] is None
    assert dropped["metadata"]["user_agent"] == kept["metadata"]["user_agent"]
    assert {k: v for k, v in dropped["metadata"].items() if k != "ip_address"} == {
        k: v for k, v in kept["metadata"].items() if k != "ip_address"
    }


def test_old_messages_without_client_fields_still_decode() -> None:
    message = stamp(_event(), "acme", RECEIVED)
    decoded = MESSAGE_MODELS[Stream.EVENTS].model_validate_json(orjson.dumps(message))
    assert decoded.browser is None and decoded.user_agent == SAFARI_IPHONE  # type: ignore[attr-defined]


@pytest.mark.parametrize("bad", ["h:" + "A" * 32, "h:" + "0" * 31, "h:" + "0" * 33, "x:" + "0" * 32])
def test_messages_accept_only_addresses_and_well_formed_hashes(bad: str) -> None:
    message = {**stamp(_event(), "acme", RECEIVED), "ip_address": bad}
    with pytest.raises(ValueError):
        MESSAGE_MODELS[Stream.EVENTS].model_validate(message)


# ---- settings and storage contract ---------------------------------------------------------------------


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYTICS_PRIVACY_SECRET", "s" * 32)
    monkeypatch.setenv("ANALYTICS_PRIVACY_KEEP_USER_AGENT", "false")
    settings = PrivacySettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.secret_bytes() == b"s" * 32 and settings.privacy_keep_user_agent is False
    assert "s" * 32 not in repr(settings)
    monkeypatch.setenv("ANALYTICS_PRIVACY_SECRET", "short")
    with pytest.raises(ValueError, match="at least 16"):
        PrivacySettings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.delenv("ANALYTICS_PRIVACY_SECRET")
    assert PrivacySettings(_env_file=None).secret_bytes() is None  # type: ignore[call-arg]


def test_tenant_setting_defaults_to_keep_and_the_column_declares_the_enum() -> None:
    assert TenantSettings().user_agent_handling == UserAgentHandling.KEEP
    assert TenantSettings.model_validate({"user_agent_handling": "drop"}).user_agent_handling == "drop"
    sql = next(m.sql for m in load_migrations() if m.name == "client_fields")
    assert f"user_agent_handling {clickhouse_enum8(UserAgentHandling)} DEFAULT 'keep'" in sql


# ---- the tenant directory ------------------------------------------------------------------------------


class _Rows:
    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        self.result_rows = rows


class FakeClient:
    """Answers the directory's one query from a list of rows, or fails while ``down``."""

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        self.rows = rows
        self.down = False
        self.closed = False

    def query(self, sql: str, **_: Any) -> _Rows:
        if self.down:
            raise ConnectionError("ClickHouse is down")
        assert "tenant_settings FINAL" in sql
        return _Rows(self.rows)

    def close(self) -> None:
        self.closed = True


def _directory(fake: FakeClient, **options: Any) -> TenantPrivacyDirectory:
    return TenantPrivacyDirectory(lambda: cast(Client, fake), SECRET, **options)


async def test_directory_answers_each_tenants_choice_from_its_snapshot() -> None:
    fake = FakeClient([("acme", "hash", "drop"), ("globex", "truncate", "keep")])
    directory = _directory(fake)
    assert await directory.refresh() and directory.loaded
    acme = directory.policy_for("acme", DAY)
    assert acme == PrivacyPolicy(IpHandling.HASH, SALT, keep_user_agent=False)
    assert directory.policy_for("acme", DAY) is acme  # cached
    assert directory.policy_for("globex", DAY) == PrivacyPolicy(
        IpHandling.TRUNCATE, b"", keep_user_agent=True
    )
    assert directory.policy_for("newcomer", DAY) == PrivacyPolicy(IpHandling.STORE, b"", keep_user_agent=True)
    tomorrow = directory.policy_for("acme", date(2027, 1, 6))
    assert tomorrow.day_salt == day_salt(SECRET, date(2027, 1, 6)) != acme.day_salt
    with pytest.raises(TypeError, match="not a datetime"):
        directory.policy_for("acme", RECEIVED)


async def test_directory_is_strict_until_read_and_keeps_the_last_snapshot_when_down() -> None:
    fake = FakeClient([("acme", "store", "keep")])
    fake.down = True
    directory = _directory(fake)
    assert not await directory.refresh() and not directory.loaded
    assert directory.policy_for("acme", DAY) == PrivacyPolicy(IpHandling.DROP, b"", keep_user_agent=False)
    fake.down = False
    assert await directory.refresh()
    assert directory.policy_for("acme", DAY).ip_handling == IpHandling.STORE
    fake.rows, fake.down = [("acme", "drop", "keep")], True
    assert not await directory.refresh() and directory.failures == 2
    assert directory.policy_for("acme", DAY).ip_handling == IpHandling.STORE  # last good snapshot
    fake.down = False
    assert await directory.refresh()
    assert directory.policy_for("acme", DAY).ip_handling == IpHandling.DROP  # a change evicts cached policies


async def test_deployment_can_drop_every_tenants_user_agent() -> None:
    directory = _directory(FakeClient([("acme", "store", "keep")]), keep_user_agent=False)
    await directory.refresh()
    assert directory.policy_for("acme", DAY).keep_user_agent is False
    assert directory.policy_for("newcomer", DAY).keep_user_agent is False


async def test_directory_without_secret_warns_and_hashes_with_a_key_of_its_own(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeClient([("acme", "hash", "keep")])
    with caplog.at_level(logging.WARNING):
        first = TenantPrivacyDirectory(lambda: cast(Client, fake), None)
        second = TenantPrivacyDirectory(lambda: cast(Client, fake), None)
    assert "ANALYTICS_PRIVACY_SECRET is not set" in caplog.text
    await first.refresh()
    await second.refresh()
    salts = {d.policy_for("acme", DAY).day_salt for d in (first, second)}
    assert len(salts) == 2 and SALT not in salts


async def test_directory_refreshes_in_the_background_until_closed() -> None:
    fake = FakeClient([("acme", "store", "keep")])
    directory = _directory(fake, refresh_s=0.01)
    await directory.start()
    assert directory.loaded
    fake.rows = [("acme", "drop", "keep")]
    for _ in range(200):
        if directory.policy_for("acme", DAY).ip_handling == IpHandling.DROP:
            break
        await asyncio.sleep(0.01)
    assert directory.policy_for("acme", DAY).ip_handling == IpHandling.DROP
    await directory.close()
    assert fake.closed
