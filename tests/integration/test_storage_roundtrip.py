"""Typed rows go into the raw tables and come back equal, through the one storage module."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from clickhouse_connect.driver.client import Client

from plumbing.migrate import migrate

pytestmark = pytest.mark.clickhouse


def test_event_rows_round_trip_with_types(clickhouse_client: Client) -> None:
    migrate(clickhouse_client)
    event_id = uuid.uuid4()
    ts = datetime(2026, 12, 31, 23, 59, 59, 123000, tzinfo=UTC)
    received = datetime(2027, 1, 1, 0, 0, 1, 5000, tzinfo=UTC)
    names = [
        "tenant_id",
        "id",
        "user_id",
        "session_id",
        "event_type",
        "event_name",
        "event_category",
        "properties",
        "timestamp",
        "source",
        "platform",
        "user_agent",
        "ip_address",
        "location",
        "sent_at",
        "received_at",
        "time_clamped",
    ]
    row = [
        "acme",
        event_id,
        "user_1",
        "sess_1",
        "user_action",
        "button_click",
        "interaction",
        '{"page":"/dashboard"}',
        ts,
        "web_app",
        "web",
        "Mozilla/5.0",
        "192.168.1.1",
        '{"country":"US"}',
        None,
        received,
        False,
    ]
    clickhouse_client.insert("analytics_events", [row], column_names=names)
    result = clickhouse_client.query(
        f"SELECT {', '.join(names)}, ingested_at FROM analytics_events WHERE id = {{id:UUID}}",
        parameters={"id": event_id},
    )
    (got,) = result.result_rows
    expected = list(row)
    expected[8] = ts.replace(tzinfo=None)
    expected[15] = received.replace(tzinfo=None)
    assert [
        value.replace(tzinfo=None) if isinstance(value, datetime) else value for value in got[:-1]
    ] == expected
    assert got[-1] is not None  # ingested_at defaulted by the server


def test_usage_rows_keep_decimals_and_dates_and_latest_wins(clickhouse_client: Client) -> None:
    migrate(clickhouse_client)
    names = ["tenant_id", "id", "user_id", "date", "session_count", "engagement_score", "received_at"]
    first = [
        "acme",
        uuid.uuid4(),
        "u",
        date(2026, 3, 29),
        3,
        Decimal("8.50"),
        datetime(2026, 3, 29, 10, tzinfo=UTC),
    ]
    second = [
        "acme",
        uuid.uuid4(),
        "u",
        date(2026, 3, 29),
        5,
        Decimal("9.25"),
        datetime(2026, 3, 29, 11, tzinfo=UTC),
    ]
    clickhouse_client.insert("usage_metrics", [first], column_names=names)
    clickhouse_client.insert("usage_metrics", [second], column_names=names)
    rows = clickhouse_client.query(
        "SELECT date, session_count, engagement_score FROM usage_metrics FINAL WHERE user_id = 'u'"
    ).result_rows
    assert rows == [(date(2026, 3, 29), 5, Decimal("9.25"))]


def test_insert_deduplication_token_drops_a_repeated_batch(clickhouse_client: Client) -> None:
    migrate(clickhouse_client)
    names = [
        "tenant_id",
        "id",
        "user_id",
        "session_id",
        "timestamp",
        "activity_type",
        "activity_category",
        "description",
        "severity",
        "tags",
        "received_at",
    ]
    now = datetime(2026, 5, 1, tzinfo=UTC)
    batch = [
        [
            "t",
            uuid.uuid4(),
            f"user_{i}",
            "s",
            now,
            "user_action",
            "projects",
            "made a thing",
            "info",
            ["a", "b"],
            now,
        ]
        for i in range(10)
    ]
    context = clickhouse_client.create_insert_context("activity_logs", column_names=names)
    context.settings["insert_deduplication_token"] = "group:topic:0:100-109"
    clickhouse_client.insert(data=batch, context=context)
    clickhouse_client.insert(data=batch, context=context)
    count = clickhouse_client.query("SELECT count() FROM activity_logs").result_rows[0][0]
    assert count == 10
    tags = clickhouse_client.query("SELECT tags FROM activity_logs LIMIT 1").result_rows[0][0]
    assert tags == ["a", "b"]
