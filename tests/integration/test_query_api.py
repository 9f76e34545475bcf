"""The query API against an independent oracle: a generated dataset goes through the real processing steps
(decode → transforms → inserts into raw tables and rollup feeds) into real ClickHouse, and every number of
every endpoint equals the value computed in plain Python from the same events (t-digest quantiles within
the documented rank error), for every period kind including custom ranges across month and year ends."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from plumbing.clickhouse import open_client
from plumbing.migrate import migrate
from plumbing.settings import ZoneLookup
from query_api.formulas import SCORE_CURVES, performance_score
from query_api.main import create_app
from query_api.settings import QuerySettings
from schemas.rollups import ROLLUPS
from tests.conftest import require_marker, unavailable
from tests.support import query_oracle as oracle
from tests.support.auth import bearer
from tests.support.examples import stamped_page_view
from tests.support.query_load import load
from tests.support.statements import recording_statements, tables_of

pytestmark = pytest.mark.clickhouse

TODAY = date(2027, 1, 5)  # NOW in New York
DAY_PERIODS: dict[str, tuple[date, date]] = {
    "last_7_days": (date(2026, 12, 30), TODAY),
    "last_30_days": (date(2026, 12, 7), TODAY),
    "last_90_days": (date(2026, 10, 8), TODAY),
    "this_week": (date(2027, 1, 4), TODAY),
    "this_month": (date(2027, 1, 1), TODAY),
    "last_month": (date(2026, 12, 1), date(2026, 12, 31)),
    "this_year": (date(2027, 1, 1), TODAY),
    "custom&start_date=2026-11-25&end_date=2026-12-05": (date(2026, 11, 25), date(2026, 12, 5)),
    "custom&start_date=2026-12-20&end_date=2027-01-03": (date(2026, 12, 20), date(2027, 1, 3)),
    "custom&start_date=2026-07-01&end_date=2027-01-05": (date(2026, 7, 1), TODAY),  # weekly series
    "custom&start_date=2025-11-15&end_date=2027-01-05": (date(2025, 11, 15), TODAY),  # monthly series
}
ALL_PERIODS = [*DAY_PERIODS, "last_24_hours"]
RAW_TABLES = {"analytics_events", "performance_metrics", "usage_metrics", "activity_logs"}
ROLLUP_TABLES = {item.table for item in ROLLUPS}


def day_span(first: date, last: date) -> oracle.Span:
    start = datetime.combine(first, time(), oracle.ZONE).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), oracle.ZONE).astimezone(UTC)
    return oracle.Span(start, end, first, last)


def spans(period: str) -> tuple[oracle.Span, oracle.Span]:
    if period == "last_24_hours":
        return (
            oracle.Span(oracle.NOW - timedelta(hours=24), oracle.NOW, None, None),
            oracle.Span(oracle.NOW - timedelta(hours=48), oracle.NOW - timedelta(hours=24), None, None),
        )
    first, last = DAY_PERIODS[period]
    length = (last - first).days + 1
    return day_span(first, last), day_span(first - timedelta(days=length), first - timedelta(days=1))


def query(period: str) -> str:
    return f"time_period={period}"


def point_key(value: str) -> date | datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value else date.fromisoformat(value)


@pytest.fixture(scope="module")
def dataset() -> oracle.Dataset:
    return oracle.generate()


@pytest.fixture(scope="module")
def loaded_database(
    request: pytest.FixtureRequest, _clickhouse_url: str | None, dataset: oracle.Dataset
) -> Iterator[tuple[str, str]]:
    """One database for the module, loaded once through the processing steps."""
    if _clickhouse_url is None:
        unavailable("no ClickHouse: neither Docker nor the chdb package is available")
    assert _clickhouse_url is not None
    database = f"test_query_{uuid.uuid4().hex[:10]}"
    admin = open_client(_clickhouse_url, database, create_database=True)
    migrate(admin)
    import asyncio

    asyncio.run(load(_clickhouse_url, database, dataset))
    try:
        yield _clickhouse_url, database
    finally:
        admin.command(f"DROP DATABASE IF EXISTS {database}")
        admin.close()


@pytest_asyncio.fixture
async def api(
    request: pytest.FixtureRequest, loaded_database: tuple[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    require_marker(request, "clickhouse")
    url, database = loaded_database
    settings = QuerySettings(
        clickhouse_url=url,
        clickhouse_database=database,
        tenant_timezones={oracle.TENANT: oracle.ZONE_NAME},
        query_cache_ttl_s=0,
    )
    app = create_app(settings, clock=lambda: oracle.NOW)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://query", headers=bearer()
    ) as client:
        yield client
    await app.state.query_store.close()


async def get(api: httpx.AsyncClient, path: str) -> Any:
    response = await api.get(path)
    assert response.status_code == 200, (path, response.text)
    body = response.json()
    assert body["success"] is True and body["metadata"]["request_id"]
    return body["data"]


def within_p75(estimate: float | None, values: list[float]) -> bool:
    if not values:
        return estimate is None
    low, high = oracle.p75_bounds(values)
    return estimate is not None and low - 1e-6 <= estimate <= high + 1e-6


@pytest.mark.parametrize("period", ALL_PERIODS)
async def test_dashboard_equals_the_oracle(
    api: httpx.AsyncClient, dataset: oracle.Dataset, period: str
) -> None:
    span, previous = spans(period)
    data = await get(api, f"/analytics/dashboard/{oracle.MAIN}?{query(period)}")
    assert data["user_id"] == oracle.MAIN and data["time_period"] == period.split("&")[0]

    want = oracle.overview(dataset, span)
    assert data["overview"] == want, period

    perf, want_perf = data["performance"], oracle.performance(dataset, span)
    assert perf["samples"] == want_perf["samples"]
    assert perf["average_load_time"] == pytest.approx(want_perf["average_load_time"], abs=0.011)
    assert perf["slowest_pages"] == want_perf["slowest_pages"]
    values = want_perf["values"]
    assert within_p75(perf["core_web_vitals"]["lcp"], values["largest_contentful_paint"])
    assert within_p75(perf["core_web_vitals"]["fid"], values["first_input_delay"])
    assert within_p75(perf["core_web_vitals"]["cls"], values["cumulative_layout_shift"])
    if want_perf["samples"]:
        bounds = {m: oracle.p75_bounds(values[m]) for m in SCORE_CURVES}
        best = performance_score({m: b[0] for m, b in bounds.items()})
        worst = performance_score({m: b[1] for m, b in bounds.items()})
        assert best is not None and worst is not None
        assert worst <= perf["performance_score"] <= best
    else:
        assert perf["performance_score"] is None
    measured = {point_key(p["date"]): p["average_load_time"] for p in perf["performance_trends"]}
    for point, mean in want_perf["trend_points"].items():
        assert measured[point] == pytest.approx(mean, abs=0.011), (period, point)
    assert all(v is None for k, v in measured.items() if k not in want_perf["trend_points"])
    got_issues = {(i["type"], i["page"], i["affected_users"]) for i in perf["issues"]}
    assert got_issues == oracle.expected_issues(dataset, span, previous), period

    sessions = want["unique_sessions"]
    want_usage = oracle.usage_block(dataset, span, sessions)
    assert set(data["usage"]) == set(want_usage)
    for key, value in want_usage.items():
        assert data["usage"][key] == value, (period, key)

    activity, want_activity = data["activity"], oracle.activity(dataset, span)
    assert [a["id"] for a in activity.pop("recent_activities")] == want_activity.pop("recent_ids")
    assert activity == want_activity

    for trend in data["trends"]:
        current, series = oracle.trend_values(dataset, span, trend["metric"])
        before, _ = oracle.trend_values(dataset, previous, trend["metric"])
        assert trend["current_value"] == pytest.approx(current, abs=0.011), (period, trend["metric"])
        assert trend["previous_value"] == pytest.approx(before, abs=0.011), (period, trend["metric"])
        if before == 0:
            assert trend["change_percentage"] is None
        else:
            assert trend["change_percentage"] == pytest.approx(oracle.change(current, before), abs=0.02)
        assert trend["trend"] == oracle.trend_word(current, before)
        got_series = {point_key(p["date"]): p["value"] for p in trend["time_series"]}
        for point, value in series.items():
            assert got_series[point] == pytest.approx(value, abs=0.011), (period, trend["metric"], point)
        assert all(v == 0 for k, v in got_series.items() if k not in series)
    assert {t["metric"] for t in data["trends"]} == {
        "events",
        "sessions",
        "page_views",
        "errors",
        "activities",
        "average_load_time",
    }
    error_issues = [i for i in perf["issues"] if i["severity"] == "error"]
    titles = {i["title"] for i in data["insights"]}
    assert len([i for i in data["insights"] if i["metric"] in {x["metric"] for x in error_issues}]) >= len(
        error_issues
    ), titles


@pytest.mark.parametrize(
    "period", ["last_7_days", "last_month", "custom&start_date=2026-12-20&end_date=2027-01-03"]
)
async def test_standalone_endpoints_agree_with_the_oracle(
    api: httpx.AsyncClient, dataset: oracle.Dataset, period: str
) -> None:
    span, previous = spans(period)
    overview = await get(api, f"/analytics/performance/{oracle.MAIN}/overview?{query(period)}")
    assert overview["samples"] == oracle.performance(dataset, span)["samples"]
    summary = await get(api, f"/analytics/activities/{oracle.MAIN}/summary?{query(period)}")
    assert summary["total_activities"] == oracle.activity(dataset, span)["total_activities"]
    trends = await get(api, f"/analytics/trends/{oracle.MAIN}?{query(period)}&metrics=events,sessions")
    assert [t["metric"] for t in trends] == ["events", "sessions"]
    assert trends[0]["current_value"] == oracle.trend_values(dataset, span, "events")[0]
    insights = await get(api, f"/analytics/insights/{oracle.MAIN}?{query(period)}")
    assert all(i["id"].startswith("insight_") for i in insights)

    usage_rows = oracle.usage_in(dataset, span)
    for metric in (
        "session_count",
        "total_session_duration",
        "page_views",
        "engagement_score",
        "average_session_duration",
    ):
        trend = await get(api, f"/analytics/usage/{oracle.MAIN}/trends?metric={metric}&{query(period)}")
        before_rows = oracle.usage_in(dataset, previous)

        def value(rows: list[dict[str, Any]], metric: str = metric) -> float:
            if metric == "engagement_score":
                return oracle.mean_half_up([r[metric] for r in rows])
            if metric == "average_session_duration":
                count = sum(r["session_count"] for r in rows)
                return round(sum(r["total_session_duration"] for r in rows) / count, 2) if count else 0.0
            return float(sum(r[metric] for r in rows))

        assert trend["current_value"] == pytest.approx(value(usage_rows), abs=0.011), metric
        assert trend["previous_value"] == pytest.approx(value(before_rows), abs=0.011), metric
        by_day = {date.fromisoformat(r["date"]): r for r in usage_rows}
        if span.days <= 92:
            for point in trend["time_series"]:
                day = date.fromisoformat(point["date"])
                assert point["value"] == pytest.approx(
                    value([by_day[day]] if day in by_day else []), abs=0.011
                )


async def test_listings_filter_paginate_and_read_raw_rows(
    api: httpx.AsyncClient, dataset: oracle.Dataset
) -> None:
    span, _ = spans("last_30_days")
    mine = [e for e in oracle.mine(dataset.events) if span.holds(e) and e["event_type"] == "error_event"]
    newest = sorted(mine, key=lambda e: (oracle.ts(e), e["id"]), reverse=True)
    path = (
        f"/analytics/events?user_id={oracle.MAIN}&event_type=error_event&start_date=2026-12-07"
        "&end_date=2027-01-05&limit=7&page=2"
    )
    response = await api.get(path)
    body = response.json()
    assert [e["id"] for e in body["data"]] == [e["id"] for e in newest[7:14]]
    assert body["pagination"] == {
        "page": 2,
        "per_page": 7,
        "total": len(mine),
        "total_pages": -(-len(mine) // 7),
        "has_next": len(mine) > 14,
        "has_previous": True,
    }
    first = body["data"][0]
    source = next(e for e in dataset.events if e["id"] == first["id"])
    assert first["properties"] == source["properties"] and first["session_id"] == source["session_id"]

    assert (await api.get("/analytics/events?limit=5000")).status_code == 400  # above the documented 1000
    all_tenant = await api.get("/analytics/events?limit=1000")
    assert all_tenant.json()["pagination"]["per_page"] == 1000
    assert all_tenant.json()["pagination"]["total"] == sum(
        1 for e in dataset.events if e["tenant_id"] == oracle.TENANT
    )

    activities = await api.get(
        f"/analytics/activities/{oracle.MAIN}?severity=critical&activity_category=security&limit=1000"
    )
    expected = [
        a
        for a in oracle.mine(dataset.activities)
        if a["severity"] == "critical" and a["activity_category"] == "security"
    ]
    assert sorted(a["id"] for a in activities.json()["data"]) == sorted(a["id"] for a in expected)

    perf = await get(api, f"/analytics/performance/{oracle.MAIN}?time_period=last_7_days&limit=1000")
    week, _ = spans("last_7_days")
    assert sorted(p["id"] for p in perf) == sorted(
        p["id"] for p in oracle.mine(dataset.performance) if week.holds(p)
    )

    recent_usage = await get(api, f"/analytics/usage/{oracle.MAIN}?time_period=last_24_hours")
    day_span, _ = spans("last_24_hours")
    assert sorted(u["date"] for u in recent_usage) == sorted(
        u["date"] for u in oracle.usage_in(dataset, day_span)
    )
    usage = await get(api, f"/analytics/usage/{oracle.MAIN}?time_period=last_30_days&limit=1000")
    latest = oracle.usage_in(dataset, span)
    assert sorted((u["date"], u["session_count"]) for u in usage) == sorted(
        (u["date"], u["session_count"]) for u in latest
    )


async def test_routes_read_the_tables_they_should(api: httpx.AsyncClient) -> None:
    """Dashboard-class endpoints read rollups (plus the bounded latest-activities read); listings read raw;
    last_24_hours reads raw rows of its window."""
    rollup_routes = [
        f"/analytics/dashboard/{oracle.MAIN}?time_period=last_30_days",
        f"/analytics/performance/{oracle.MAIN}/overview?time_period=this_year",
        f"/analytics/usage/{oracle.MAIN}/trends?metric=page_views",
        f"/analytics/trends/{oracle.MAIN}?time_period=last_90_days",
        f"/analytics/insights/{oracle.MAIN}",
        f"/analytics/activities/{oracle.MAIN}/summary",
    ]
    for path in rollup_routes:
        with recording_statements() as statements:
            await get(api, path)
        tables = set().union(*(tables_of(s) for s in statements))
        assert tables, path
        assert tables - {"activity_logs"} <= ROLLUP_TABLES, (path, tables)
        for statement in statements:
            if "activity_logs" in tables_of(statement):
                assert "LIMIT" in statement and "ORDER BY timestamp DESC" in statement, statement
    for path, table in [
        ("/analytics/events", "analytics_events"),
        (f"/analytics/performance/{oracle.MAIN}", "performance_metrics"),
        (f"/analytics/usage/{oracle.MAIN}", "usage_metrics"),
        (f"/analytics/activities/{oracle.MAIN}", "activity_logs"),
    ]:
        with recording_statements() as statements:
            await get(api, path)
        assert set().union(*(tables_of(s) for s in statements)) == {table}, path
    with recording_statements() as statements:
        await get(api, f"/analytics/dashboard/{oracle.MAIN}?time_period=last_24_hours")
    tables = set().union(*(tables_of(s) for s in statements))
    assert tables - ROLLUP_TABLES == RAW_TABLES and "rollup_session_pages" in tables  # first-seen day
    # every statement is constrained to the caller's tenant
    for statement in statements:
        assert "tenant_id = {tenant:String}" in statement, statement


async def test_unknown_user_gets_zeros_and_bad_parameters_get_400(
    api: httpx.AsyncClient, dataset: oracle.Dataset
) -> None:
    data = await get(api, "/analytics/dashboard/nobody_at_all")
    assert data["overview"]["total_events"] == 0 and data["overview"]["top_events"] == []
    assert data["performance"]["performance_score"] is None and data["usage"]["user_segments"] == []
    assert all(t["current_value"] == 0 and t["change_percentage"] is None for t in data["trends"])
    # the other tenant's user of the same id is never counted
    mine = await get(api, f"/analytics/dashboard/{oracle.MAIN}?time_period=this_year")
    year, _ = spans("this_year")
    assert mine["overview"]["total_events"] == sum(1 for e in oracle.mine(dataset.events) if year.holds(e))
    cases = [
        ("/analytics/dashboard/u?time_period=yesterday", "time_period"),
        ("/analytics/dashboard/u?time_period=custom&start_date=2027-01-05&end_date=2027-01-01", "end_date"),
        ("/analytics/dashboard/u?time_period=custom&start_date=2027-01-05", "end_date"),
        ("/analytics/dashboard/u?time_period=custom&start_date=someday&end_date=2027-01-01", "start_date"),
        ("/analytics/usage/u/trends?metric=happiness", "metric"),
        ("/analytics/trends/u?metrics=events,vibes", "metrics"),
        ("/analytics/events?page=0", "page"),
        ("/analytics/events?start_date=notadate", "start_date"),
    ]
    for path, parameter in cases:
        response = await api.get(path)
        assert response.status_code == 400, (path, response.text)
        body = response.json()
        assert body["success"] is False and body["error"]["code"] == "VALIDATION_ERROR"
        assert [d["field"] for d in body["error"]["details"]] == [parameter], path
    for path in (
        "/analytics/events?limit=ten",
        "/analytics/events?event_type=nope",
        f"/analytics/dashboard/{'x' * 37}",
    ):
        response = await api.get(path)
        assert response.status_code == 400, path
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    missing = await api.get("/analytics/nothing/here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    ready = await api.get("/readyz")
    assert ready.status_code == 200
    metrics = (await api.get("/metrics")).text
    assert (
        "analytics_query_clickhouse_duration_seconds_count" in metrics
        and 'route="/analytics/dashboard/{user_id}"' in metrics
    )


async def test_tenant_wide_aggregates_are_shared_by_the_tenants_dashboards(api: httpx.AsyncClient) -> None:
    """Feature users and users affected by a page issue read every user's rows: computed once per tenant
    and range, then reused by the next user's dashboard (the per-user answers are not cached here)."""
    period = "custom&start_date=2026-10-01&end_date=2026-10-31"
    with recording_statements() as first:
        await get(api, f"/analytics/dashboard/{oracle.MAIN}?time_period={period}")
    with recording_statements() as second:
        await get(api, f"/analytics/dashboard/{oracle.PEERS[0]}?time_period={period}")
    tenant_wide = [s for s in first if "{user:String}" not in s]  # every per-user statement binds the user
    assert len(tenant_wide) == 2, "the first dashboard computes users per feature and affected users per page"
    assert any("uniqExact(user_id)" in s for s in tenant_wide)
    assert any("GROUP BY page, user_id" in s for s in tenant_wide)
    assert not [s for s in second if "{user:String}" not in s]
    assert len(second) == len(first) - 2


async def test_new_and_returning_users_get_their_segment_from_their_first_active_day(
    api: httpx.AsyncClient, loaded_database: tuple[str, str]
) -> None:
    """``new_user`` depends on the first day a user was ever active, read beside the period's sessions:
    two users of a tenant of their own, active on the same two days of the week, one also 40 days ago."""
    tenant = "t_segments"
    now = oracle.NOW
    days_back = {"u_newcomer": (1, 3), "u_returning": (1, 3, 40)}
    events = [
        stamped_page_view(
            user,
            f"s_{user}_{back}",
            (now - timedelta(days=back, hours=3)).isoformat(),
            now.isoformat(),
            tenant,
        )
        for user, backs in days_back.items()
        for back in backs
    ]
    await load(*loaded_database, oracle.Dataset(events=events), ZoneLookup("UTC", {}), label="segments")
    headers = bearer(tenant=tenant)
    for user, segment in (("u_newcomer", "new_user"), ("u_returning", "regular_user")):
        response = await api.get(f"/analytics/dashboard/{user}?time_period=last_7_days", headers=headers)
        data = response.json()["data"]
        assert data["usage"]["daily_active_users"] == round(2 / 7, 2)
        assert data["usage"]["user_segments"] == [{"segment": segment, "users": 1, "percentage": 100.0}]
        assert data["overview"]["unique_sessions"] == 2
        assert data["overview"]["bounce_rate"] == 1.0  # each session viewed one page


def _summary(
    tenant: str, day: date, received: datetime, features: list[tuple[str, str, int]]
) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "id": str(uuid.uuid4()),
        "user_id": "u_versions",
        "received_at": oracle.iso(received),
        "time_clamped": False,
        "schema_version": 1,
        "date": day.isoformat(),
        "session_count": 4,
        "total_session_duration": 1000 + int(received.timestamp()) % 7 * 100,
        "average_session_duration": 250,
        "page_views": 12,
        "unique_pages_visited": 5,
        "features_used": [
            {"feature_name": name, "category": category, "usage_count": count, "total_time_spent": 10}
            for name, category, count in features
        ],
        "engagement_score": 50.0,
    }


async def test_dashboard_usage_keeps_only_the_newest_version_of_each_summary(
    api: httpx.AsyncClient, loaded_database: tuple[str, str]
) -> None:
    """The dashboard reads stored usage rows without ``FINAL`` and keeps the newest version itself: a day
    re-sent with a feature dropped, and the newer summary stored twice in separate parts (a redelivery
    whose batch got a new deduplication token), count once; a feature in two categories counts in both."""
    url, database = loaded_database
    tenant = "t_usage_versions"
    day = oracle.NOW.date() - timedelta(days=2)
    first = oracle.NOW - timedelta(days=1)
    older = _summary(tenant, day, first, [("editor", "projects", 3), ("export", "projects", 4)])
    newer = _summary(
        tenant, day, first + timedelta(seconds=5), [("editor", "projects", 5), ("editor", "assets", 2)]
    )
    other_day = _summary(tenant, day - timedelta(days=1), first, [("share", "projects", 1)])
    admin = open_client(url, database)
    tables = ("rollup_user_usage", "rollup_feature_usage")
    for table in tables:  # keep the versions in separate parts while the dashboard reads them
        admin.command(f"SYSTEM STOP MERGES {table}")
    try:
        for label, usage in (
            ("versions-1", [older, other_day]),
            ("versions-2", [newer]),
            ("versions-3", [newer]),
        ):
            await load(url, database, oracle.Dataset(usage=usage), ZoneLookup("UTC", {}), label=label)
        stored = admin.query(
            "SELECT count() FROM rollup_feature_usage WHERE tenant_id = {t:String} AND grain = 'daily'",
            parameters={"t": tenant},
        ).result_rows[0][0]
        assert stored == 2 + 1 + 2 + 2  # every version is still there, the redelivered one twice
        response = await api.get(
            "/analytics/dashboard/u_versions?time_period=last_7_days", headers=bearer(tenant=tenant)
        )
    finally:
        for table in tables:
            admin.command(f"SYSTEM START MERGES {table}")
        admin.close()
    data = response.json()["data"]
    assert data["usage"]["most_used_features"] == [
        {"feature_name": "editor", "usage_count": 7, "users": 1},
        {"feature_name": "share", "usage_count": 1, "users": 1},
    ]
    sessions = 4 + 4
    duration = newer["total_session_duration"] + other_day["total_session_duration"]
    assert data["overview"]["average_session_duration"] == round(duration / sessions, 2)
    assert data["overview"]["engagement_score"] == 50.0


def _event(user: str, session: str, at: datetime, name: str, page: str = "") -> dict[str, Any]:
    event = stamped_page_view(user, session, at.isoformat(), oracle.NOW.isoformat(), "t_legacy_rows")
    if name != "page_view":
        event.update(event_name=name, event_type="error_event", event_category="errors", properties={})
    elif page:
        event["properties"] = {"page": page}
    return event


async def test_dashboard_reads_rollups_written_before_the_session_breakdowns_the_old_way(
    api: httpx.AsyncClient, loaded_database: tuple[str, str]
) -> None:
    """Per-session rows stored before migration 0016 have no errors, pages or event names; a range holding
    one is answered from the user-events and page-views rollups instead, with the same figures the
    breakdowns give (a range without such rows reads neither of those rollups)."""
    url, database = loaded_database
    tenant, user, now = "t_legacy_rows", "u_legacy", oracle.NOW
    events = [
        _event(user, f"s{day}", now - timedelta(days=day, hours=hour), name, page)
        for day in (1, 2, 9)
        for hour, name, page in ((3, "page_view", "/home"), (2, "page_view", "/docs"), (1, "api_error", ""))
    ] + [_event(user, "s1b", now - timedelta(days=1, hours=5), "page_view", "/home")]
    await load(url, database, oracle.Dataset(events=events), ZoneLookup("UTC", {}), label="legacy")
    path, headers = f"/analytics/dashboard/{user}?time_period=last_7_days", bearer(tenant=tenant)

    with recording_statements() as statements:
        fresh = (await api.get(path, headers=headers)).json()["data"]
    read = set().union(*(tables_of(s) for s in statements))
    assert "rollup_session_pages" in read and not read & {"rollup_user_events", "rollup_page_views"}
    overview = fresh["overview"]
    assert (overview["total_events"], overview["unique_sessions"]) == (7, 3)
    assert overview["top_pages"] == [
        {"page": "/home", "views": 3, "unique_views": 3},
        {"page": "/docs", "views": 2, "unique_views": 2},
    ]
    assert overview["top_events"][0] == {"event_name": "page_view", "count": 5, "percentage": 71.43}
    errors = next(t for t in fresh["trends"] if t["metric"] == "errors")
    assert (errors["current_value"], errors["previous_value"]) == (2, 1)

    admin = open_client(url, database)
    try:  # the rows of one day as 0015 wrote them: no breakdowns
        admin.command(
            "ALTER TABLE rollup_session_pages UPDATE errors = 0, views_by_page = map(), "
            "events_by_name = map() WHERE tenant_id = {t:String} AND bucket = {d:Date} "
            "SETTINGS mutations_sync = 2",
            parameters={"t": tenant, "d": (now - timedelta(days=2)).date()},
        )
    finally:
        admin.close()
    with recording_statements() as statements:
        legacy = (await api.get(path, headers=headers)).json()["data"]
    read = set().union(*(tables_of(s) for s in statements))
    assert {"rollup_user_events", "rollup_page_views"} <= read
    assert {**legacy, "last_updated": None} == {**fresh, "last_updated": None}


async def test_dashboard_usage_of_summaries_stored_before_their_feature_counts_reads_the_feature_rows(
    api: httpx.AsyncClient, loaded_database: tuple[str, str]
) -> None:
    """A summary stored before migration 0017 has no ``feature_uses``; when it is a day's newest, the
    dashboard counts that range's features from the per-feature rollup, with the same result (a range
    without such summaries reads only the summaries)."""
    url, database = loaded_database
    tenant, now = "t_usage_legacy", oracle.NOW
    day = now.date() - timedelta(days=2)
    usage = [
        _summary(tenant, day, now - timedelta(days=1), [("editor", "projects", 5), ("editor", "assets", 2)]),
        _summary(tenant, day - timedelta(days=1), now - timedelta(days=1), [("share", "projects", 1)]),
    ]
    await load(url, database, oracle.Dataset(usage=usage), ZoneLookup("UTC", {}), label="usage-legacy")
    path, headers = "/analytics/dashboard/u_versions?time_period=last_7_days", bearer(tenant=tenant)

    def user_feature_reads(statements: list[str]) -> list[str]:
        return [s for s in statements if "rollup_feature_usage" in tables_of(s) and "{user:String}" in s]

    with recording_statements() as statements:
        fresh = (await api.get(path, headers=headers)).json()["data"]
    assert not user_feature_reads(statements)
    assert fresh["usage"]["most_used_features"] == [
        {"feature_name": "editor", "usage_count": 7, "users": 1},
        {"feature_name": "share", "usage_count": 1, "users": 1},
    ]
    admin = open_client(url, database)
    try:  # the summaries of one day as 0016 wrote them
        admin.command(
            "ALTER TABLE rollup_user_usage UPDATE feature_uses = map(), features_recorded = 0 "
            "WHERE tenant_id = {t:String} AND date = {d:Date} SETTINGS mutations_sync = 2",
            parameters={"t": tenant, "d": day},
        )
    finally:
        admin.close()
    with recording_statements() as statements:
        legacy = (await api.get(path, headers=headers)).json()["data"]
    assert user_feature_reads(statements)
    assert {**legacy, "last_updated": None} == {**fresh, "last_updated": None}
