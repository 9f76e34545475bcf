"""Watch sessions read without ``FINAL`` (a course's from ``lms_video_sessions``, the copy sorted by course a
materialized view writes, a student's from ``lms_activity``): a row delivered again (same sorting key, a later
``received_at``) shows once, in the page and in the count, as ``FINAL`` would show it; the sessions stored
before migration 0021 are copied by it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from clickhouse_connect.driver.client import Client

from plumbing.migrate import applied_migrations, apply, load_migrations, migrate
from query_api.lms.models import LmsPeriod
from query_api.lms.videos import video_sessions
from query_api.metrics import QueryMetrics
from query_api.store import QueryStore
from tests.conftest import ClickHouseTarget

pytestmark = pytest.mark.clickhouse
TENANT = "video-sessions"
START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
COLUMNS = [
    "tenant_id", "id", "user_id", "timestamp", "type", "user_type", "lms_user_id", "session_id", "course_id",
    "video_id", "watch_duration", "completion_percentage", "start_time", "received_at", "properties",
]  # fmt: skip


def _session(student: int, session: str, minutes: int, received: datetime, event: uuid.UUID) -> list[object]:
    started = START + timedelta(minutes=minutes)
    return [
        TENANT, event, f"student:{student}", started + timedelta(minutes=5), "video_watched", "student",
        student, session, 5, 50, 300, Decimal("75.5"), started, received, "{}",
    ]  # fmt: skip


async def test_a_session_delivered_twice_is_read_once(clickhouse: ClickHouseTarget) -> None:
    client = clickhouse.client()
    migrate(client)
    first, second = uuid.uuid4(), uuid.uuid4()
    received = START + timedelta(hours=1)
    client.insert("lms_activity", [_session(17, "s1", 0, received, first)], column_names=COLUMNS)
    client.insert(  # the same event again (a redelivery), and another session
        "lms_activity",
        [
            _session(17, "s1", 0, received + timedelta(seconds=30), first),
            _session(18, "s2", 10, received, second),
        ],
        column_names=COLUMNS,
    )
    store = QueryStore(clickhouse.client, QueryMetrics(), pool_size=1)
    try:
        period = LmsPeriod(TENANT, ZoneInfo("UTC"), date(2026, 5, 1), date(2026, 5, 31))
        sessions, total = await video_sessions(store, period, course_id=5)
        assert total == 2
        assert [(s.student_id, s.session_id, s.watch_duration) for s in sessions] == [
            (17, "s1", 300),
            (18, "s2", 300),
        ]
        page, total_past_end = await video_sessions(store, period, course_id=5, page=(5, 10))
        assert (page, total_past_end) == ([], 2)
        final = client.query(
            "SELECT count() FROM lms_activity FINAL WHERE tenant_id = {t:String}", parameters={"t": TENANT}
        ).result_rows
        assert final == [(2,)]  # what FINAL counts: the reader agrees with it
    finally:
        await store.close()
        client.close()


def _stored_sessions(client: Client) -> list[tuple[object, ...]]:
    return client.query(
        "SELECT user_id, session_id, start_time, received_at FROM lms_video_sessions "
        "WHERE tenant_id = {t:String} ORDER BY user_id, received_at",
        parameters={"t": TENANT},
    ).result_rows


async def test_the_migration_copies_the_sessions_stored_before_it_once(clickhouse: ClickHouseTarget) -> None:
    client = clickhouse.client()
    migrations = load_migrations()
    [copying] = [m for m in migrations if m.name == "lms_video_sessions"]
    assert applied_migrations(client) == {}  # creates the record
    for migration in migrations[: migrations.index(copying)]:
        apply(client, migration)
    received = START + timedelta(hours=1)
    first, second = uuid.uuid4(), uuid.uuid4()
    login = [TENANT, uuid.uuid4(), "student:17", START, "login", "student", 17, "s0", 0, 0, None, None, None,
             received, "{}"]  # fmt: skip
    client.insert(
        "lms_activity",
        [_session(17, "s1", 0, received, first), _session(18, "s2", 10, received, second), login],
        column_names=COLUMNS,
    )
    store = QueryStore(clickhouse.client, QueryMetrics(), pool_size=1)
    try:
        assert [m.name for m in migrate(client)] == [m.name for m in migrations[migrations.index(copying) :]]
        copied = _stored_sessions(client)
        assert [(user, session) for user, session, *_ in copied] == [
            ("student:17", "s1"),
            ("student:18", "s2"),
        ]
        assert copied[0][2] == START.replace(tzinfo=None) or copied[0][2] == START
        for (
            statement
        ) in copying.statements:  # a re-run (migrate died before recording it) copies nothing again
            if statement.lstrip().startswith("INSERT"):
                client.command(statement)
        assert _stored_sessions(client) == copied
        # later rows come through the view; the course's read finds both kinds
        client.insert("lms_activity", [_session(19, "s3", 20, received, uuid.uuid4())], column_names=COLUMNS)
        period = LmsPeriod(TENANT, ZoneInfo("UTC"), date(2026, 5, 1), date(2026, 5, 31))
        sessions, total = await video_sessions(store, period, course_id=5)
        assert total == 3
        assert [(s.student_id, s.session_id) for s in sessions] == [(17, "s1"), (18, "s2"), (19, "s3")]
    finally:
        await store.close()
        client.close()
