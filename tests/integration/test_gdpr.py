"""GDPR export and deletion on the real pipeline (the one-process product: gateway → in-process bus → raw
tables and rollups in ClickHouse → query API), and the deletion job's guarantees against writers that have
not seen its suppression yet (the Kafka workers' steps).

The oracle of "no aggregate still counts the user" is a twin tenant that received only the other user's
traffic: after the deletion every rollup row and the other user's dashboard must equal the twin's.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from clickhouse_connect.driver.client import Client

from cli.privacy_jobs import add_cli
from jobs.erasure import run_pending_deletions
from jobs.erasure_queue import JobStatus, privacy_job, privacy_jobs, schedule_deletion
from plumbing.migrate import migrate
from plumbing.settings import ZoneLookup
from plumbing.storage import Storage
from privacy.personal_data import PER_USER_ROLLUP_TABLES, PERSONAL_RAW_TABLES, PERSONAL_STATE_TABLES
from privacy.suppressions import user_suppression
from privacy.tracking import TrackingFilter
from query_api.export import EXPORT_TABLES
from schemas.messages import encode_batch
from schemas.rollups import ROLLUPS
from schemas.topics import Stream
from stream_processors.intents import IntentLog
from stream_processors.pipeline import AgentGroup, BatchWriter, Delivery
from tests.conftest import ClickHouseTarget
from tests.support.asgi import served
from tests.support.auth import bearer
from tests.support.dev_app import dev_app
from tests.support.pipeline import RecordingDeadLetters
from tests.support.rollup_reads import rounded_rows, select_sql

pytestmark = pytest.mark.clickhouse

ACME, TWIN, GLOBEX = "acme", "twin", "globex"
X, Y = "xavier", "yvonne"
"""X is erased; Y stays. Tenant TWIN receives Y's traffic only: what ACME must look like afterwards."""
SHARED_FEATURE = "project_creation"
_IDS = uuid.UUID("6f1d3c1e-3b8a-4d61-9a51-1c2f0e4b7a99")


def _days() -> list[date]:
    """Five days over six weeks (several ISO weeks, two or three months), ending yesterday."""
    today = datetime.now(UTC).date()
    return [today - timedelta(days=n) for n in (40, 33, 17, 9, 1)]


def _id(*parts: object) -> str:
    return str(uuid.uuid5(_IDS, "/".join(str(p) for p in parts)))


@dataclass
class Traffic:
    """What one user posted: ids per exported table (the LMS ones stay empty here)."""

    ids: dict[str, set[str]]

    @property
    def rows(self) -> int:
        return sum(len(ids) for ids in self.ids.values())


def _bodies(user: str, day: date) -> dict[str, list[dict[str, Any]]]:
    slow = user == X  # X's pages load slowly: tenant-wide performance numbers differ with and without X
    session = f"{user}-{day.isoformat()}"
    events = [
        {
            "id": _id(user, day, "event", k),
            "user_id": user,
            "session_id": session,
            "event_type": "user_action",
            "event_name": name,
            "event_category": "navigation" if name == "page_view" else "interaction",
            "properties": {"page": page},
            "source": "web_app",
            "platform": "web",
            "timestamp": f"{day.isoformat()}T10:{k:02d}:00Z",
        }
        for k, (name, page) in enumerate(
            [("page_view", "/home"), ("page_view", "/pricing"), ("button_click", "/pricing")]
        )
    ]
    performance = {
        "id": _id(user, day, "performance"),
        "user_id": user,
        "session_id": session,
        "page": "/home",
        "page_load_time": 4800 if slow else 900,
        "time_to_first_byte": 300 if slow else 80,
        "first_contentful_paint": 2100 if slow else 500,
        "largest_contentful_paint": 4200 if slow else 1100,
        "cumulative_layout_shift": 0.3 if slow else 0.02,
        "first_input_delay": 250 if slow else 20,
        "total_blocking_time": 700 if slow else 50,
        "timestamp": f"{day.isoformat()}T10:05:00Z",
    }
    features = [
        {"feature_name": SHARED_FEATURE, "category": "projects", "usage_count": 2, "total_time_spent": 60}
    ]
    if user == X:
        features.append(
            {"feature_name": "x_only", "category": "assets", "usage_count": 1, "total_time_spent": 9}
        )
    usage = {
        "id": _id(user, day, "usage"),
        "user_id": user,
        "date": day.isoformat(),
        "session_count": 2,
        "total_session_duration": 600 if slow else 1200,
        "average_session_duration": 300 if slow else 600,
        "page_views": 2,
        "unique_pages_visited": 2,
        "features_used": features,
        "engagement_score": 40.5 if slow else 72.25,
    }
    activity = {
        "id": _id(user, day, "activity"),
        "user_id": user,
        "session_id": session,
        "activity_type": "error" if slow else "user_action",
        "activity_category": "projects",
        "description": f"{user} saved a project",
        "severity": "error" if slow else "info",
        "tags": ["project", user],
        "timestamp": f"{day.isoformat()}T10:06:00Z",
    }
    return {
        "analytics_events": events,
        "performance_metrics": [performance],
        "usage_metrics": [usage],
        "activity_logs": [activity],
    }


async def _post(http: httpx.AsyncClient, tenant: str, user: str, days: list[date]) -> Traffic:
    service = bearer(f"{tenant}-backend", tenant, ["service"])
    ids: dict[str, set[str]] = {table: set() for table in EXPORT_TABLES}
    for day in days:
        bodies = _bodies(user, day)
        sent = await http.post(
            "/analytics/events/batch", json={"events": bodies["analytics_events"]}, headers=service
        )
        assert sent.status_code == 200 and sent.json()["data"]["failed_count"] == 0, sent.text
        for table, path in (
            ("performance_metrics", "/analytics/performance"),
            ("usage_metrics", "/analytics/usage"),
            ("activity_logs", "/analytics/activities"),
        ):
            for body in bodies[table]:
                answer = await http.post(path, json=body, headers=service)
                assert answer.status_code == 200, answer.text
        for table, items in bodies.items():
            ids[table].update(item["id"] for item in items)
    return Traffic(ids)


@dataclass
class Product:
    http: httpx.AsyncClient
    client: Client


@pytest_asyncio.fixture
async def product(clickhouse: ClickHouseTarget, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Product]:
    """The one-process product; its upkeep refreshes filters and runs jobs every 0.2 s; no result caches,
    so every answer is computed from what is stored."""
    monkeypatch.setenv("ANALYTICS_QUERY_CACHE_TTL_S", "0")
    monkeypatch.setenv("ANALYTICS_QUERY_TENANT_CACHE_TTL_S", "0")
    app = dev_app(clickhouse, worker_zone_refresh_s=0.2)
    client = clickhouse.client()
    try:
        async with served(app, "http://product") as http:
            yield Product(http, client)
    finally:
        client.close()


def _count(client: Client, table: str, tenant: str, user: str, *, masked_too: bool = False) -> int:
    settings = {"apply_deleted_mask": 0} if masked_too else None
    rows = client.query(
        f"SELECT count() FROM {table} WHERE tenant_id = {{t:String}} AND user_id = {{u:String}}",
        parameters={"t": tenant, "u": user},
        settings=settings,
    ).result_rows
    return int(rows[0][0])


def _rollups(client: Client, tenant: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every rollup row of the tenant, measures merged, tenant left out: comparable across tenants. A
    replacing rollup holds one row per key (``FINAL``): its stored values, text ones included."""
    content = {}
    for item in ROLLUPS:
        for grain in item.grains:
            keys = [c for c in item.key_columns if c != "tenant_id"]
            if item.replacing_version:
                values = [*keys, *(m.name for m in item.measures)]  # not the version: a receive time
                sql = (
                    f"SELECT {', '.join(values)} FROM {item.table} FINAL "
                    f"WHERE grain = '{grain.value}' AND tenant_id = {{t:String}}"
                )
            else:
                sql = select_sql(item, grain, keys, "tenant_id = {t:String}")
            content[f"{item.table}/{grain}"] = rounded_rows(
                client, f"{sql} ORDER BY {', '.join(keys)}", {"t": tenant}
            )
    return content


def _comparable(dashboard: dict[str, Any]) -> dict[str, Any]:
    """A dashboard without what differs between two tenants with the same numbers (stamps, insight ids)."""
    data = dict(dashboard["data"])
    data.pop("last_updated")
    data["insights"] = [
        {k: v for k, v in i.items() if k not in ("id", "created_at")} for i in data["insights"]
    ]
    return data


async def _dashboard(http: httpx.AsyncClient, tenant: str, user: str, days: list[date]) -> dict[str, Any]:
    params = {"time_period": "custom", "start_date": days[0].isoformat(), "end_date": days[-1].isoformat()}
    answer = await http.get(
        f"/analytics/dashboard/{user}", params=params, headers=bearer("ops", tenant, ["admin"])
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _feature_users(dashboard: dict[str, Any]) -> dict[str, int]:
    return {f["feature_name"]: f["users"] for f in dashboard["data"]["usage"]["most_used_features"]}


async def test_export_and_erase_a_user_on_the_running_product(product: Product) -> None:
    http, client = product.http, product.client
    days = _days()
    x = await _post(http, ACME, X, days)
    y = await _post(http, ACME, Y, days)
    await _post(http, TWIN, Y, days)
    dpo = bearer("dpo", ACME, ["admin"])

    # ---- export: every row of X, nothing of Y, in JSON and CSV
    exported = await http.get(f"/analytics/privacy/users/{X}/export", headers=dpo)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == "application/json"
    assert exported.headers["content-disposition"].startswith(f'attachment; filename="export-{X}-')
    body = exported.json()
    assert body["success"] is True and body["metadata"]["request_id"] == exported.headers["x-request-id"]
    data = body["data"]
    assert (data["user_id"], data["tenant_id"]) == (X, ACME)
    assert list(data["tables"]) == list(EXPORT_TABLES)  # the product's tables first, then the LMS's
    for table, rows in data["tables"].items():
        assert {r["id"] for r in rows} == x.ids[table], table
        assert {(r["tenant_id"], r["user_id"]) for r in rows} <= {(ACME, X)}
        stored = client.query(
            f"SELECT name FROM system.columns WHERE database = currentDatabase() AND table = '{table}' "
            "ORDER BY position"
        ).result_rows
        assert all(list(r) == [c for (c,) in stored] for r in rows), table  # every column, in order
    events = {r["id"]: r for r in data["tables"]["analytics_events"]}
    first = events[_id(X, days[0], "event", 0)]
    assert (first["timestamp"], first["event_name"]) == (f"{days[0].isoformat()}T10:00:00.000Z", "page_view")
    assert first["properties"] == '{"page":"/home"}'
    usage = {r["date"]: r for r in data["tables"]["usage_metrics"]}
    assert usage[days[2].isoformat()]["engagement_score"] == 40.5
    assert {tuple(r["tags"]) for r in data["tables"]["activity_logs"]} == {("project", X)}

    as_csv = await http.get(f"/analytics/privacy/users/{X}/export", params={"format": "csv"}, headers=dpo)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    lines = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(lines) == x.rows == 4 * len(days) + 2 * len(days)
    for table in PERSONAL_RAW_TABLES:
        assert {line["id"] for line in lines if line["table"] == table} == x.ids[table]
    assert as_csv.text.split("\r\n", 1)[0].startswith(
        "table,tenant_id,id,user_id,session_id,event_type,event_name"
    )  # the product's columns first, as before
    assert {line["user_id"] for line in lines} == {X}
    assert {line["engagement_score"] for line in lines if line["table"] == "usage_metrics"} == {"40.5"}
    assert all(line["page"] == "" for line in lines if line["table"] == "usage_metrics")  # not its column

    # ---- who may ask
    user_token = bearer(X, ACME, ["user"])
    for method, path in (
        ("GET", f"/analytics/privacy/users/{X}/export"),
        ("DELETE", f"/analytics/privacy/users/{X}"),
    ):
        refused = await http.request(method, path, headers=user_token)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN", (method, path)

    before = await _dashboard(http, ACME, Y, days)
    assert _feature_users(before)[SHARED_FEATURE] == 2  # X counts in the tenant-wide numbers

    # ---- deletion: accepted, the same job while it is unfinished
    accepted = await http.delete(f"/analytics/privacy/users/{X}", headers=dpo)
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()["data"]
    assert (job["status"], job["user_id"], job["requested_by"], job["kind"]) == (
        "pending",
        X,
        "dpo",
        "delete",
    )
    assert accepted.headers["location"] == job["status_url"] == f"/analytics/privacy/jobs/{job['job_id']}"
    again = await http.delete(f"/analytics/privacy/users/{X}", headers=bearer("svc", ACME, ["service"]))
    assert again.status_code == 200 and again.json()["data"]["job_id"] == job["job_id"]
    assert (await http.get(job["status_url"], headers=user_token)).status_code == 403
    theirs = await http.get(job["status_url"], headers=bearer("root", GLOBEX, ["admin"]))
    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "NOT_FOUND"

    # ---- X keeps posting while the job runs: none of it may stay
    posted_meanwhile = 0

    async def keep_posting(stop: asyncio.Event) -> None:
        nonlocal posted_meanwhile
        service = bearer("acme-backend", ACME, ["service"])
        while not stop.is_set():
            event = {**_bodies(X, days[-1])["analytics_events"][0], "id": str(uuid.uuid4())}
            answer = await http.post("/analytics/events", json=event, headers=service)
            assert answer.status_code == 200
            posted_meanwhile += 1
            await asyncio.sleep(0.05)

    stop = asyncio.Event()
    poster = asyncio.create_task(keep_posting(stop))
    status = job
    try:
        for _ in range(600):
            answer = await http.get(job["status_url"], headers=dpo)
            assert answer.status_code == 200, answer.text
            status = answer.json()["data"]
            if status["status"] in ("done", "failed"):
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await poster
    assert status["status"] == "done", status
    assert posted_meanwhile >= 10
    assert (
        status["raw_rows_deleted"] >= x.rows
    )  # plus X's events stored before the filter saw the suppression
    assert status["rollup_rows_deleted"] > 0
    assert status["detail"].startswith(
        f"{status['raw_rows_deleted']} raw and {status['rollup_rows_deleted']} rollup rows deleted"
    )
    await asyncio.sleep(0.5)  # posts acknowledged just before "done" have long been written (or dropped)

    # ---- nothing of X anywhere, not even rows hidden by a mask; everything else as if X had never been
    for table in (*PERSONAL_RAW_TABLES, *PERSONAL_STATE_TABLES, *PER_USER_ROLLUP_TABLES):
        assert _count(client, table, ACME, X, masked_too=True) == 0, table
    for table in PERSONAL_RAW_TABLES:
        assert _count(client, table, ACME, Y) == len(y.ids[table]), table
    assert _rollups(client, ACME) == _rollups(client, TWIN)
    after = await _dashboard(http, ACME, Y, days)
    assert _feature_users(after)[SHARED_FEATURE] == 1
    assert _comparable(after) == _comparable(await _dashboard(http, TWIN, Y, days))
    assert _comparable(after)["overview"] == _comparable(before)["overview"]  # Y's own numbers unchanged
    empty = (await http.get(f"/analytics/privacy/users/{X}/export", headers=dpo)).json()["data"]["tables"]
    assert empty == {table: [] for table in EXPORT_TABLES}

    # ---- audited: both exports, the requests, the outcome
    repeated = f"job {job['job_id']} (already {again.json()['data']['status']})"
    tables = len(EXPORT_TABLES)
    expected = {
        ("dpo", "export_user", "succeeded", f"json, {x.rows} rows of {tables} tables"),
        ("dpo", "export_user", "succeeded", f"csv, {x.rows} rows of {tables} tables"),
        ("dpo", "delete_user", "accepted", f"job {job['job_id']}"),
        ("svc", "delete_user", "accepted", repeated),
        ("dpo", "delete_user", "succeeded", status["detail"]),
        ("dpo", "export_user", "succeeded", f"json, 0 rows of {tables} tables"),
        (X, "export_user", "denied", "user may not export user"),
    }
    assert expected <= await _audited(client, ACME, X)


async def _audited(client: Client, tenant: str, user: str) -> set[tuple[str, str, str, str]]:
    """The audit entries about ``user``, read from the table once the request-side buffer (written every
    second by its own task) has reached it."""
    entries: set[tuple[str, str, str, str]] = set()
    for _ in range(50):
        rows = client.query(
            "SELECT actor, action, outcome, detail FROM audit_log "
            "WHERE tenant_id = {t:String} AND target_user = {u:String}",
            parameters={"t": tenant, "u": user},
        ).result_rows
        entries = {(str(a), str(b), str(c), str(d)) for a, b, c, d in rows}
        if ("dpo", "export_user", "succeeded", f"json, 0 rows of {len(EXPORT_TABLES)} tables") in entries:
            break
        await asyncio.sleep(0.1)
    return entries


# ---- the job against writers with an old snapshot (the distributed workers' steps) ------------------


def _message(user: str, stream: Stream, received: datetime, k: int) -> dict[str, Any]:
    common = {
        "tenant_id": "default",
        "id": str(uuid.uuid4()),
        "user_id": user,
        "received_at": received.isoformat().replace("+00:00", "Z"),
        "schema_version": 1,
        "session_id": f"{user}-s",
        "timestamp": (received - timedelta(days=k)).isoformat().replace("+00:00", "Z"),
    }
    if stream is Stream.EVENTS:
        return {
            **common,
            "event_type": "user_action",
            "event_name": "page_view",
            "event_category": "navigation",
            "properties": {"page": "/home"},
            "source": "web_app",
            "platform": "web",
        }
    return {
        **common,
        "activity_type": "user_action",
        "activity_category": "projects",
        "description": "saved",
        "severity": "info",
    }


_OFFSETS = itertools.count(1)
"""Kafka offsets of the simulated deliveries: unique, so no batch shares another's deduplication token."""


class Writers:
    """The raw and rollup agents' batch writers of two streams, sharing one tracking filter."""

    def __init__(self, storage: Storage, tracking: TrackingFilter) -> None:
        self._writers = {
            (stream, group): BatchWriter(
                stream,
                group,
                f"g-{group.value}",
                storage,
                IntentLog(storage),
                RecordingDeadLetters(),
                ZoneLookup("UTC", {}),
                tracking,
            )  # fmt: skip
            for stream in (Stream.EVENTS, Stream.ACTIVITIES)
            for group in AgentGroup
        }

    async def write(self, user: str, received: datetime, days: int = 1) -> None:
        for (stream, _), writer in self._writers.items():
            rows = [_message(user, stream, received, k) for k in range(days)]
            await writer.write([Delivery(f"t.{stream.value}", 0, next(_OFFSETS), encode_batch(rows))])


def _x_rows(client: Client) -> int:
    return sum(
        _count(client, t, "default", X, masked_too=True)
        for t in (*PERSONAL_RAW_TABLES, *PER_USER_ROLLUP_TABLES)
    )


@pytest.fixture
def store(clickhouse: ClickHouseTarget) -> Iterator[tuple[Client, Storage]]:
    client = clickhouse.client()
    migrate(client)
    storage = Storage(clickhouse.client)
    try:
        yield client, storage
    finally:
        storage.close()
        client.close()


async def test_rows_a_stale_writer_stores_during_the_job_are_deleted_and_the_suppression_outlives_it(
    store: tuple[Client, Storage],
) -> None:
    client, storage = store
    stale = Writers(storage, TrackingFilter())  # a worker that never refreshes its snapshot
    earlier = datetime.now(UTC) - timedelta(minutes=5)
    await stale.write(X, earlier, days=20)
    await stale.write(Y, earlier, days=20)
    y_before = _rollups(client, "default")
    job, created = schedule_deletion(client, "default", X, "dpo")
    assert created and user_suppression(client, "default", X) is not None
    loop = asyncio.get_running_loop()
    steps: list[str] = []

    def meanwhile(step: str) -> None:  # the stale worker stores X's events between the job's steps
        steps.append(step)
        if step in ("raw", "rollups"):
            asyncio.run_coroutine_threadsafe(stale.write(X, earlier), loop).result()

    outcomes = await asyncio.to_thread(
        run_pending_deletions,
        client,
        ZoneLookup("UTC", {}),
        lambda *_: True,
        until_margin=timedelta(0),
        recompute=True,  # also the tenant-wide rebuild over X's days: Y's buckets must come out the same
        on_step=meanwhile,
    )
    assert steps == ["raw", "rollups", "late"]
    assert [(o.id, o.status) for o in outcomes] == [(job.id, JobStatus.DONE)]
    done = privacy_job(client, "default", job.id)
    assert done is not None and done.status is JobStatus.DONE
    assert "stored meanwhile" in done.detail and "rollups recomputed" in done.detail, done.detail
    assert done.raw_rows == 2 * 20 + 2 * 2  # 20 days of two streams, then one event of each twice
    assert _x_rows(client) == 0
    assert _rollups(client, "default") == {
        t: [r for r in rows if r[0] != X] for t, rows in y_before.items()
    }  # rollup rows are (user, bucket, ...): Y's are untouched, X's gone

    suppression = user_suppression(client, "default", X)
    assert suppression is not None and suppression.until is not None and suppression.job_id == job.id
    fresh_filter = TrackingFilter()
    await fresh_filter.refresh(storage)
    fresh = Writers(storage, fresh_filter)
    await fresh.write(X, suppression.until - timedelta(seconds=1))  # in flight since before the deletion
    assert _x_rows(client) == 0
    await fresh.write(X, suppression.until + timedelta(seconds=1))  # received after it: new data
    assert _count(client, "analytics_events", "default", X) == 1
    assert _count(client, "rollup_user_events", "default", X) == 3  # its day, week and month


class Crash(BaseException):
    """The process dies mid-job (not an error the job could record)."""


async def test_a_job_that_died_or_failed_is_carried_out_by_the_next_run(
    store: tuple[Client, Storage],
) -> None:
    client, storage = store
    writers = Writers(storage, TrackingFilter())
    await writers.write(X, datetime.now(UTC) - timedelta(minutes=5), days=3)
    job, _ = schedule_deletion(client, "default", X, "dpo")
    zones = ZoneLookup("UTC", {})

    def die(step: str) -> None:
        if step == "raw":
            raise Crash

    with pytest.raises(Crash):
        run_pending_deletions(client, zones, lambda *_: True, on_step=die)
    left = privacy_job(client, "default", job.id)
    assert left is not None and left.status is JobStatus.RUNNING
    assert _count(client, "analytics_events", "default", X) == 0
    assert _count(client, "rollup_user_events", "default", X) > 0  # died before the rollups
    assert run_pending_deletions(client, zones, lambda *_: True) == []  # another runner's, recent: left
    assert schedule_deletion(client, "default", X, "again")[0].id == job.id  # still the unfinished one

    def fail(step: str) -> None:
        if step == "rollups":
            raise RuntimeError("disk full")

    [failed] = run_pending_deletions(client, zones, lambda *_: True, stale_after=timedelta(0), on_step=fail)
    assert failed.status is JobStatus.FAILED
    stored = privacy_job(client, "default", job.id)
    assert stored is not None and stored.detail == "RuntimeError (see the job runner's log)"
    open_suppression = user_suppression(client, "default", X)
    assert open_suppression is not None and open_suppression.until is None  # X stays dropped meanwhile

    retry, created = schedule_deletion(client, "default", X, "dpo")
    assert created and retry.id != job.id
    [outcome] = run_pending_deletions(client, zones, lambda *_: True)
    assert (outcome.id, outcome.status) == (retry.id, JobStatus.DONE)
    assert _x_rows(client) == 0
    assert [j.status for j in privacy_jobs(client, tenant_id="default", user_id=X)] == [
        JobStatus.DONE,
        JobStatus.FAILED,
    ]
    closed = user_suppression(client, "default", X)
    assert closed is not None and closed.job_id == retry.id and closed.until is not None


def test_the_cli_waits_for_a_fresh_request_then_carries_it_out(
    clickhouse: ClickHouseTarget,
    store: tuple[Client, Storage],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``analytics privacy-jobs --pending`` (what the CronJob runs): a request younger than the workers'
    refresh is not run at once, but within the same run once every worker must have seen it."""
    client, _ = store
    job, _ = schedule_deletion(client, "default", X, "dpo")
    monkeypatch.setenv("ANALYTICS_CLICKHOUSE_URL", clickhouse.url)
    monkeypatch.setenv("ANALYTICS_CLICKHOUSE_DATABASE", clickhouse.database)
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers())
    args = parser.parse_args(["privacy-jobs", "--pending", "--wait-s", "1.5"])
    started = time.monotonic()
    assert args.handler(args) == 0
    assert time.monotonic() - started >= 1.0  # it waited for the request to ripen
    printed = capsys.readouterr().out.splitlines()
    assert printed == [f"done {job.id} (default/{X}: 0 raw, 0 rollup rows)", "1 privacy job(s) run"]
    stored = privacy_job(client, "default", job.id)
    assert stored is not None and stored.status is JobStatus.DONE
