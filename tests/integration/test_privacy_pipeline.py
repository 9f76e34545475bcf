"""IP and user-agent handling end to end, short of HTTP: tenant settings saved in ClickHouse, read by the
gateway's :class:`TenantPrivacyDirectory`, applied by ``stamp()``; the Kafka message that results is checked
byte for byte for what it must not hold, then written by the workers' processing steps (``BatchWriter``,
both agent groups) into ClickHouse, whose raw rows are checked too — and survive a rollup rebuild, which
reads them back into message models."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest

from ingest_gateway.stamping import stamp
from jobs.rebuild import rebuild_rollups
from plumbing.migrate import migrate
from plumbing.settings import ZoneLookup
from plumbing.storage import Storage
from plumbing.tenant_store import save_tenant_settings
from privacy.directory import TenantPrivacyDirectory
from privacy.policy import CLIENT_FIELDS, day_salt, hash_ip, parse_user_agent
from schemas.messages import encode_batch
from schemas.payloads import AnalyticsEventCreate
from schemas.tenant_config import IpHandling, TenantSettings, UserAgentHandling
from schemas.topics import Stream
from stream_processors.intents import IntentLog
from stream_processors.pipeline import AgentGroup, BatchWriter, Delivery
from tests.conftest import ClickHouseTarget
from tests.support.pipeline import RecordingDeadLetters

pytestmark = pytest.mark.clickhouse

SECRET = b"integration test secret, 32 byte"
DAY = date(2027, 1, 5)
RECEIVED = datetime(2027, 1, 5, 10, tzinfo=UTC)
NEXT_DAY = RECEIVED + timedelta(days=1)
IPV4 = "203.0.113.77"
IPV6 = "2001:db8:85a3:8d3:1319:8a2e:370:7348"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
HOST_PARTS = (IPV4, IPV6, "8d3:1319:8a2e:370:7348")
"""What identifies the client's host: only ``store`` lets it reach Kafka or ClickHouse."""
NETWORK_PARTS = ("203.0.113", "2001:db8:85a3")
"""The networks of the addresses: ``truncate`` keeps them, ``hash`` and ``drop`` do not."""


def forbidden(mode: IpHandling) -> tuple[str, ...]:
    return {
        IpHandling.STORE: (),
        IpHandling.TRUNCATE: HOST_PARTS,
        IpHandling.HASH: HOST_PARTS + NETWORK_PARTS,
        IpHandling.DROP: HOST_PARTS + NETWORK_PARTS,
    }[mode]


def salt(day: date) -> bytes:
    return day_salt(SECRET, day)


EXPECTED_IP: dict[IpHandling, dict[str, str | None]] = {
    IpHandling.STORE: {IPV4: IPV4, IPV6: IPV6},
    IpHandling.TRUNCATE: {IPV4: "203.0.113.0", IPV6: "2001:db8:85a3::"},
    IpHandling.HASH: {IPV4: hash_ip(IPV4, salt(DAY)), IPV6: hash_ip(IPV6, salt(DAY))},
    IpHandling.DROP: {IPV4: None, IPV6: None},
}
TENANTS = {
    f"{ip.value}_{ua.value}": (ip, ua)
    for ip in IpHandling
    for ua in (UserAgentHandling.KEEP, UserAgentHandling.DROP)
}


def payload(user: str, ip: str | None, ua: str | None, name: str = "page_view") -> AnalyticsEventCreate:
    return AnalyticsEventCreate.model_validate(
        {
            "user_id": user,
            "session_id": f"s_{user}",
            "event_type": "user_action",
            "event_name": name,
            "event_category": "navigation",
            "properties": {"page": "/home"},
            "source": "web_app",
            "platform": "web",
            "user_agent": ua,
            "ip_address": ip,
        }
    )


def requests() -> list[tuple[AnalyticsEventCreate, datetime]]:
    """A phone on IPv4 (twice today, once tomorrow), a crawler on IPv6, and an event with neither."""
    return [
        (payload("phone", IPV4, IPHONE), RECEIVED),
        (payload("phone", IPV4, IPHONE, name="click"), RECEIVED + timedelta(hours=5)),
        (payload("phone", IPV4, IPHONE, name="return"), NEXT_DAY),
        (payload("crawler", IPV6, GOOGLEBOT), RECEIVED),
        (payload("anonymous", None, None), RECEIVED),
    ]


def stored_rows(client: Any, tenant: str) -> list[dict[str, Any]]:
    columns = ["user_id", "event_name", "ip_address", "user_agent", *CLIENT_FIELDS]
    rows = client.query(
        f"SELECT {', '.join(columns)} FROM analytics_events FINAL WHERE tenant_id = {{t:String}} "
        "ORDER BY user_id, timestamp",
        parameters={"t": tenant},
    ).result_rows
    return [dict(zip(columns, row, strict=True)) for row in rows]


def whole_rows_text(client: Any, tenant: str) -> str:
    """Every column of the tenant's raw rows, as ClickHouse renders them."""
    rows = client.query(
        "SELECT * FROM analytics_events WHERE tenant_id = {t:String}", parameters={"t": tenant}
    )
    return str(rows.result_rows)


async def test_each_ip_mode_and_user_agent_choice_reaches_kafka_and_clickhouse_as_configured(
    clickhouse: ClickHouseTarget,
) -> None:
    client = clickhouse.client()
    migrate(client)
    for tenant, (ip, ua) in TENANTS.items():
        save_tenant_settings(client, tenant, TenantSettings(ip_handling=ip, user_agent_handling=ua))
    directory = TenantPrivacyDirectory(clickhouse.client, SECRET)
    assert await directory.refresh()

    # ---- the gateway: what goes on Kafka ----
    messages: list[dict[str, Any]] = []
    for tenant, (ip_mode, ua_mode) in TENANTS.items():
        keep_ua = ua_mode is UserAgentHandling.KEEP
        stamped = [
            stamp(body, tenant, at, privacy=directory.policy_for(tenant, at.date()))
            for body, at in requests()
        ]
        wire = encode_batch(stamped)
        on_kafka = orjson.loads(wire)["events"]
        phone_today, phone_later, phone_tomorrow, crawler, anonymous = on_kafka
        assert phone_today["ip_address"] == EXPECTED_IP[ip_mode][IPV4], tenant
        assert crawler["ip_address"] == EXPECTED_IP[ip_mode][IPV6], tenant
        assert anonymous["ip_address"] is None
        if ip_mode is IpHandling.HASH:  # one visitor per day, another value the next day
            assert phone_later["ip_address"] == phone_today["ip_address"]
            assert (
                phone_tomorrow["ip_address"]
                == hash_ip(IPV4, salt(NEXT_DAY.date()))
                != phone_today["ip_address"]
            )
        else:
            assert phone_tomorrow["ip_address"] == phone_today["ip_address"]
        assert not [part for part in forbidden(ip_mode) if part.encode() in wire], tenant
        assert phone_today["user_agent"] == (IPHONE if keep_ua else None)
        assert crawler["user_agent"] == (GOOGLEBOT if keep_ua else None)
        if not keep_ua:
            assert b"Mozilla" not in wire and b"Googlebot/2.1" not in wire
        assert {f: phone_today[f] for f in CLIENT_FIELDS} == parse_user_agent(IPHONE)._asdict()
        assert (crawler["browser"], crawler["device"]) == ("Googlebot", "Spider")
        assert not set(CLIENT_FIELDS) & anonymous.keys()  # nothing parsed, nothing added
        messages.extend(stamped)

    # ---- the workers: what lands in ClickHouse ----
    storage = Storage(clickhouse.client)
    dead_letters = RecordingDeadLetters()
    for group in AgentGroup:
        writer = BatchWriter(
            Stream.EVENTS, group, f"g-{group.value}", storage, IntentLog(storage), dead_letters,
            ZoneLookup("UTC", {}),
        )  # fmt: skip
        await writer.write([Delivery("t.events", 0, 0, encode_batch(messages))])
    assert dead_letters.letters == []

    iphone, bot = parse_user_agent(IPHONE), parse_user_agent(GOOGLEBOT)
    for tenant, (ip_mode, ua_mode) in TENANTS.items():
        keep_ua = ua_mode is UserAgentHandling.KEEP
        ip = EXPECTED_IP[ip_mode]
        tomorrow = hash_ip(IPV4, salt(NEXT_DAY.date())) if ip_mode is IpHandling.HASH else ip[IPV4]
        ua_of = {IPHONE: IPHONE if keep_ua else "", GOOGLEBOT: GOOGLEBOT if keep_ua else ""}
        assert stored_rows(client, tenant) == [
            {"user_id": "anonymous", "event_name": "page_view", "ip_address": "", "user_agent": "",
             "browser": "", "browser_version": "", "os": "", "os_version": "", "device": ""},
            {"user_id": "crawler", "event_name": "page_view", "ip_address": ip[IPV6] or "",
             "user_agent": ua_of[GOOGLEBOT], **bot._asdict()},
            {"user_id": "phone", "event_name": "page_view", "ip_address": ip[IPV4] or "",
             "user_agent": ua_of[IPHONE], **iphone._asdict()},
            {"user_id": "phone", "event_name": "click", "ip_address": ip[IPV4] or "",
             "user_agent": ua_of[IPHONE], **iphone._asdict()},
            {"user_id": "phone", "event_name": "return", "ip_address": tomorrow or "",
             "user_agent": ua_of[IPHONE], **iphone._asdict()},
        ], tenant  # fmt: skip
        text = whole_rows_text(client, tenant)
        assert not [part for part in forbidden(ip_mode) if part in text], tenant
        if not keep_ua:
            assert "Mozilla" not in text, tenant

    # rollups are fed as before (no client fields there), and a rebuild reads the raw rows back into
    # message models: hashed addresses and parsed fields must validate there too
    daily = client.query(
        "SELECT sum(events) FROM rollup_user_events WHERE grain = 'daily' AND tenant_id = 'hash_drop'"
    ).result_rows
    assert daily[0][0] == len(requests())
    report = rebuild_rollups(client, DAY, DAY + timedelta(days=1), ZoneLookup("UTC", {}), tenant="hash_drop")
    assert report.events == len(requests())
    after = client.query(
        "SELECT sum(events) FROM rollup_user_events WHERE grain = 'daily' AND tenant_id = 'hash_drop'"
    ).result_rows
    assert after[0][0] == len(requests())
    await directory.close()
    storage.close()
    client.close()
