"""Tracking preferences saved through the config API are honoured by the workers: a user who opted out has
nothing stored, a user tracking only some streams has only those, everyone else is untouched."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from plumbing.migrate import migrate
from plumbing.settings import ZoneLookup
from plumbing.storage import Storage
from plumbing.tenant_store import save_preferences
from privacy.tracking import TrackingFilter
from schemas.messages import encode_batch
from schemas.tenant_config import TrackingPreferences
from schemas.topics import Stream
from stream_processors.intents import IntentLog
from stream_processors.pipeline import AgentGroup, BatchWriter, Delivery
from tests.conftest import ClickHouseTarget
from tests.support.examples import stamped_page_view
from tests.support.pipeline import RecordingDeadLetters

pytestmark = pytest.mark.clickhouse


def _event(user: str) -> dict[str, Any]:
    return stamped_page_view(user, "s1", "2027-01-05T09:00:00.000Z")


def _activity(user: str) -> dict[str, Any]:
    return {
        "tenant_id": "default",
        "id": str(uuid.uuid4()),
        "user_id": user,
        "received_at": "2027-01-05T10:00:00.000Z",
        "schema_version": 1,
        "session_id": "s1",
        "activity_type": "user_action",
        "activity_category": "projects",
        "description": "saved",
        "severity": "info",
        "timestamp": "2027-01-05T09:00:00.000Z",
    }


async def test_workers_store_nothing_a_user_does_not_want_tracked(clickhouse: ClickHouseTarget) -> None:
    client = clickhouse.client()
    migrate(client)
    save_preferences(client, "default", "opted_out", TrackingPreferences(enabled=False))
    save_preferences(client, "default", "events_only", TrackingPreferences(tracked_streams=[Stream.EVENTS]))
    save_preferences(client, "default", "back_in", TrackingPreferences(enabled=False))
    save_preferences(client, "default", "back_in", TrackingPreferences(enabled=True))  # the latest wins
    storage = Storage(clickhouse.client)
    tracking = TrackingFilter()
    await tracking.refresh(storage)
    users = ["opted_out", "events_only", "back_in", "everyone_else"]
    batches = {Stream.EVENTS: [_event(u) for u in users], Stream.ACTIVITIES: [_activity(u) for u in users]}
    for stream, rows in batches.items():
        for group in AgentGroup:
            writer = BatchWriter(
                stream, group, f"g-{group.value}", storage, IntentLog(storage), RecordingDeadLetters(),
                ZoneLookup("UTC", {}), tracking,
            )  # fmt: skip
            await writer.write([Delivery(f"t.{stream.value}", 0, 0, encode_batch(rows))])
    stored = {
        table: sorted(r[0] for r in client.query(f"SELECT user_id FROM {table}").result_rows)
        for table in ("analytics_events", "activity_logs")
    }
    assert stored == {
        "analytics_events": ["back_in", "events_only", "everyone_else"],
        "activity_logs": ["back_in", "everyone_else"],
    }
    rolled = client.query(
        "SELECT user_id, sum(events) FROM rollup_user_events WHERE grain = 'daily' GROUP BY user_id"
    ).result_rows
    assert sorted(r[0] for r in rolled) == ["back_in", "events_only", "everyone_else"]
    storage.close()
    client.close()
