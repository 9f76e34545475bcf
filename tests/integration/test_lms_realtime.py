"""The real-time read of the LMS API and its Server-Sent Events channel (issue 19): a fresh tenant gets
activity and traffic samples stamped in the last half hour through the gateway, and every figure of
``/api/admin/analytics/realtime`` — and of each event the stream pushes, read over a real socket from a
uvicorn server — must equal the plain-Python count over the posted bodies."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from ingest_gateway.settings import GatewaySettings
from query_api.main import create_app
from query_api.settings import QuerySettings
from tests.conftest import ClickHouseTarget, free_port
from tests.support.asgi import served
from tests.support.auth import token
from tests.support.dev_app import dev_app
from tests.support.lms_http import admin, bearer_of, json_of

pytestmark = pytest.mark.clickhouse

TENANT = "lms-live"


def stamp(instant: datetime) -> str:
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def activity(t0: datetime) -> list[dict[str, Any]]:
    """Views every 35 s over the last ~14 minutes by 7 students in 2 sessions each, four video sessions
    (playing now, ended 40 s ago — both in progress —, ended 10 minutes ago but reported 2 minutes ago,
    reported 7 minutes ago) and one re-sent event (same id)."""
    views = [
        {
            "id": str(uuid.uuid4()),
            "type": "content_viewed",
            "user_type": "student",
            "user_id": i % 7 + 1,
            "timestamp": stamp(t0 - timedelta(seconds=35 * i)),
            "session_id": f"s-{i % 7 + 1}-{i // 14}",
            "course_id": 101,
            "content_id": 3300 + i,
        }
        for i in range(24)
    ]

    def video(user: int, session: str, reported: timedelta, ended: timedelta | None) -> dict[str, Any]:
        body = {
            "id": str(uuid.uuid4()),
            "type": "video_watched",
            "user_type": "student",
            "user_id": user,
            "timestamp": stamp(t0 - reported),
            "session_id": session,
            "course_id": 101,
            "video_id": 5001,
            "watch_duration": 300,
            "completion_percentage": 40,
            "start_time": stamp(t0 - timedelta(minutes=20)),
        }
        if ended is not None:
            body["end_time"] = stamp(t0 - ended)
        return body

    videos = [
        video(8, "v-8", timedelta(seconds=50), None),
        video(11, "v-11", timedelta(seconds=40), timedelta(seconds=40)),
        video(9, "v-9", timedelta(minutes=2), timedelta(minutes=10)),
        video(10, "v-10", timedelta(minutes=7), timedelta(minutes=7)),
    ]
    return [*views, *videos, views[3]]


def traffic(t0: datetime) -> list[dict[str, Any]]:
    def sample(source: str, ago: timedelta, requests: int, errors: int) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "type": "traffic",
            "source": source,
            "timestamp": stamp(t0 - ago),
            "interval_seconds": 60,
            "requests": requests,
            "errors": errors,
            "bytes_served": 1000,
            "latency_ms_sum": 10.0,
        }

    return [
        sample("web-1", timedelta(minutes=1), 100, 3),
        sample("web-2", timedelta(minutes=2), 50, 0),
        sample("web-1", timedelta(minutes=9), 80, 2),
        sample("web-2", timedelta(minutes=30), 70, 7),
    ]


def expected(
    t0: datetime, as_of: datetime, events: list[dict[str, Any]], samples: list[dict[str, Any]]
) -> Any:
    """The figures, recomputed from the bodies (each id once)."""
    unique = list({e["id"]: e for e in events}.values())

    def when(body: dict[str, Any], name: str = "timestamp") -> datetime:
        return datetime.fromisoformat(body[name].replace("Z", "+00:00"))

    since = as_of - timedelta(minutes=5)
    recent = [e for e in unique if since < when(e) <= as_of]
    last_minute = as_of.replace(second=0, microsecond=0)
    minutes = [last_minute - timedelta(minutes=14 - i) for i in range(15)]
    playing = {
        (e["session_id"], e["video_id"])
        for e in recent
        if e["type"] == "video_watched" and ("end_time" not in e or when(e, "end_time") > since)
    }
    window = [s for s in samples if since < when(s) <= as_of]
    requests, errors = sum(s["requests"] for s in window), sum(s["errors"] for s in window)
    charted = [s for s in samples if minutes[0] <= when(s) <= as_of and s["errors"]]
    return json_of(
        {
            "tenant_id": TENANT,
            "as_of": as_of,
            "window_seconds": 300,
            "active_users": len({(e["user_type"], e["user_id"]) for e in recent}),
            "active_sessions": len({e["session_id"] for e in recent}),
            "events": len(recent),
            "video_sessions_in_progress": len(playing),
            "requests": requests,
            "errors": errors,
            "error_rate": round(100 * errors / requests, 2),
            "events_per_minute": [
                {
                    "minute": m,
                    "events": sum(
                        1 for e in unique if m <= when(e) < m + timedelta(minutes=1) and when(e) <= as_of
                    ),
                }
                for m in minutes
            ],
            "newest_errors": [
                {
                    "sampled_at": when(s),
                    "source": s["source"],
                    "requests": s["requests"],
                    "errors": s["errors"],
                }
                for s in sorted(charted, key=lambda s: when(s), reverse=True)
            ],
        }
    )


def sse_events(lines: list[str]) -> list[dict[str, str]]:
    """The events of a ``text/event-stream`` (fields of each event; comments skipped)."""
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in lines:
        if not line:
            if current:
                events.append(current)
            current = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            current[name] = value.removeprefix(" ")
    return events


async def test_realtime_figures_and_their_stream_equal_the_posted_window(
    clickhouse: ClickHouseTarget,
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0)
    events, samples = activity(t0), traffic(t0)
    service = {"authorization": f"Bearer {token('lms-backend', TENANT, ('service',))}"}
    async with served(dev_app(clickhouse, GatewaySettings()), "http://lms", service) as gateway:
        for route, bodies in (("activity", events), ("telemetry", samples)):
            response = await gateway.post(f"/api/learning/{route}/batch", json={"events": bodies})
            assert response.status_code == 200 and response.json()["data"]["failed_count"] == 0, response.text

    as_of = t0 + timedelta(seconds=2)
    want = expected(t0, as_of, events, samples)
    assert want["active_users"] == 10 and want["video_sessions_in_progress"] == 2 and want["newest_errors"]
    settings = QuerySettings(
        clickhouse_url=clickhouse.url, clickhouse_database=clickhouse.database, query_cache_ttl_s=0
    )
    app = create_app(settings, clock=lambda: as_of)
    port = free_port()
    # no log_config and no log_level: uvicorn would reconfigure the process's loggers for every later test
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level=None))
    running = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not running.done(), "the query API did not start"
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            response = await http.get("/api/admin/analytics/realtime", headers=admin(TENANT))
            assert response.status_code == 200, response.text
            assert response.json()["data"] == want

            refused = await http.get(
                "/api/admin/analytics/realtime/stream", headers=bearer_of("4", TENANT, "teacher")
            )
            assert refused.status_code == 403 and refused.json()["errorCode"] == "FORBIDDEN"

            lines: list[str] = []
            async with http.stream(
                "GET",
                "/api/admin/analytics/realtime/stream",
                params={"intervalSeconds": 1},
                headers=admin(TENANT),
            ) as stream:
                assert stream.status_code == 200
                assert stream.headers["content-type"].startswith("text/event-stream")
                async for line in stream.aiter_lines():
                    lines.append(line)
                    if len(sse_events([*lines, ""])) == 2 and line == "":
                        break
        pushed = sse_events(lines)
        assert [e["event"] for e in pushed] == ["realtime", "realtime"]
        assert [e["id"] for e in pushed] == ["1", "2"] and pushed[0]["retry"] == "3000"
        for event in pushed:
            envelope = orjson.loads(event["data"])
            assert envelope["statusCode"] == 200 and envelope["data"] == want
    finally:
        server.should_exit = True
        await running
