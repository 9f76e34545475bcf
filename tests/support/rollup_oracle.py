"""An independent oracle for the rollups: generates stamped events and recomputes every rollup value in
plain Python (its own bucketing with zoneinfo, its own aggregation), to compare with what ClickHouse holds.

Nothing here imports production transforms or rollup code: a shared bug could not hide.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TENANT_ZONES = {
    "acme": "UTC",
    "globex": "America/New_York",
    "initech": "Europe/Berlin",
    "umbrella": "Asia/Kolkata",
}
# instants around year, month, ISO-week and DST boundaries (2026-03-08 US, 2026-03-29 EU, 2026-11-01 US)
ANCHORS = [
    datetime(2026, 12, 31, 22, 0, tzinfo=UTC),
    datetime(2027, 1, 1, 4, 0, tzinfo=UTC),
    datetime(2026, 3, 8, 6, 30, tzinfo=UTC),
    datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
    datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
    datetime(2026, 6, 30, 23, 30, tzinfo=UTC),
    datetime(2026, 9, 27, 23, 0, tzinfo=UTC),  # Sunday night UTC: Monday in Asia/Kolkata
]
PAGES = ["/", "/dashboard", "/projects", "/projects/42", "/assets", "/marketplace", "/settings"]
EVENT_NAMES = ["page_view", "page_view", "button_click", "asset_upload", "project_open"]
VITALS = [
    "page_load_time",
    "time_to_first_byte",
    "first_contentful_paint",
    "largest_contentful_paint",
    "first_input_delay",
    "total_blocking_time",
]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_buckets(moment: datetime, zone: str) -> dict[str, date]:
    day = moment.astimezone(ZoneInfo(zone)).date()
    return {
        "daily": day,
        "weekly": date.fromisocalendar(*day.isocalendar()[:2], 1),
        "monthly": date(day.year, day.month, 1),
    }


def day_buckets(day: date) -> dict[str, date]:
    return {
        "daily": day,
        "weekly": date.fromisocalendar(*day.isocalendar()[:2], 1),
        "monthly": date(day.year, day.month, 1),
    }


@dataclass
class Generated:
    events: list[dict[str, Any]] = field(default_factory=list)
    performance: list[dict[str, Any]] = field(default_factory=list)
    usage: list[dict[str, Any]] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)


def generate(count: int, users: int = 60, seed: int = 11) -> Generated:
    """``count`` events over all streams (mostly analytics events), shuffled: late and out of order."""
    rng = random.Random(seed)
    tenants = list(TENANT_ZONES)
    people = [(tenants[i % len(tenants)], f"user_{i:03d}") for i in range(users)]
    out = Generated()
    received = datetime(2027, 1, 2, 12, tzinfo=UTC)

    def moment() -> datetime:
        return rng.choice(ANCHORS) + timedelta(
            minutes=rng.randint(-300, 300), milliseconds=rng.randint(0, 999)
        )

    def base(tenant: str, user: str) -> dict[str, Any]:
        return {
            "tenant_id": tenant,
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "user_id": user,
            "received_at": iso(received),
            "time_clamped": False,
            "schema_version": 1,
        }

    for i in range(count):
        tenant, user = rng.choice(people)
        kind = i % 20
        if kind < 14:
            name = rng.choice(EVENT_NAMES)
            props: dict[str, Any] = (
                {"page": rng.choice(PAGES)} if name == "page_view" or rng.random() < 0.3 else {}
            )
            out.events.append(
                {
                    **base(tenant, user),
                    "session_id": f"s_{user}_{rng.randint(0, 6)}",
                    "event_type": rng.choice(["user_action", "engagement_event", "system_event"]),
                    "event_name": name,
                    "event_category": rng.choice(["navigation", "interaction"]),
                    "properties": props,
                    "source": "web_app",
                    "platform": "web",
                    "timestamp": iso(moment()),
                }
            )
        elif kind < 17:
            vitals = {v: rng.randint(0, 5000) for v in VITALS}
            out.performance.append(
                {
                    **base(tenant, user),
                    "session_id": f"s_{user}",
                    "page": rng.choice(PAGES),
                    **vitals,
                    "cumulative_layout_shift": round(rng.random() / 2, 3),
                    "timestamp": iso(moment()),
                }
            )
        elif kind < 19:
            out.activities.append(
                {
                    **base(tenant, user),
                    "session_id": f"s_{user}",
                    "activity_type": rng.choice(["user_action", "api_call", "error"]),
                    "activity_category": rng.choice(["projects", "security"]),
                    "description": "did something",
                    "severity": rng.choice(["info", "warning", "error"]),
                    "tags": ["x"],
                    "timestamp": iso(moment()),
                }
            )
        else:
            day = moment().date()
            sent = received + timedelta(seconds=i)  # later posts of the same day replace earlier ones
            out.usage.append(
                {
                    **base(tenant, user),
                    "received_at": iso(sent),
                    "date": day.isoformat(),
                    "session_count": rng.randint(0, 9),
                    "total_session_duration": rng.randint(0, 9000),
                    "average_session_duration": 100,
                    "page_views": rng.randint(0, 50),
                    "unique_pages_visited": rng.randint(0, 9),
                    "features_used": [
                        {
                            "feature_name": rng.choice(["editor", "export"]),
                            "category": "projects",
                            "usage_count": rng.randint(1, 5),
                            "total_time_spent": rng.randint(0, 600),
                        }
                    ],
                    "engagement_score": round(rng.random() * 10, 2),
                }
            )
    for stream in (out.events, out.performance, out.usage, out.activities):
        rng.shuffle(stream)
    return out


def ts(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))


def expected_user_events(
    events: list[dict[str, Any]], grain: str
) -> tuple[dict[tuple[Any, ...], int], dict[tuple[Any, ...], int]]:
    """(counts by tenant,user,bucket,type,category,name) and (unique sessions by tenant,user,bucket)."""
    counts: dict[tuple[Any, ...], int] = defaultdict(int)
    sessions: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for e in events:
        bucket = local_buckets(ts(e), TENANT_ZONES[e["tenant_id"]])[grain]
        counts[
            (e["tenant_id"], e["user_id"], bucket, e["event_type"], e["event_category"], e["event_name"])
        ] += 1
        sessions[(e["tenant_id"], e["user_id"], bucket)].add(e["session_id"])
    return dict(counts), {k: len(v) for k, v in sessions.items()}


def expected_page_views(events: list[dict[str, Any]], grain: str) -> dict[tuple[Any, ...], tuple[int, int]]:
    """(views, unique sessions) by tenant,user,bucket,page for page_view events."""
    views: dict[tuple[Any, ...], int] = defaultdict(int)
    sessions: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for e in events:
        if e["event_name"] != "page_view":
            continue
        key = (
            e["tenant_id"],
            e["user_id"],
            local_buckets(ts(e), TENANT_ZONES[e["tenant_id"]])[grain],
            e["properties"].get("page", ""),
        )
        views[key] += 1
        sessions[key].add(e["session_id"])
    return {k: (views[k], len(sessions[k])) for k in views}


def expected_session_pages(
    events: list[dict[str, Any]], grain: str
) -> dict[tuple[Any, ...], tuple[int, int]]:
    out: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    for e in events:
        key = (
            e["tenant_id"],
            e["user_id"],
            local_buckets(ts(e), TENANT_ZONES[e["tenant_id"]])[grain],
            e["session_id"],
        )
        out[key][0] += 1
        out[key][1] += e["event_name"] == "page_view"
    return {k: (v[0], v[1]) for k, v in out.items()}


def expected_performance(rows: list[dict[str, Any]], grain: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """samples, means and sorted values (for quantile checks) by tenant,user,bucket,page."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[
            (
                r["tenant_id"],
                r["user_id"],
                local_buckets(ts(r), TENANT_ZONES[r["tenant_id"]])[grain],
                r["page"],
            )
        ].append(r)
    out = {}
    for key, members in groups.items():
        metrics = [*VITALS, "cumulative_layout_shift"]
        out[key] = {
            "samples": len(members),
            **{f"avg_{m}": sum(float(x[m]) for x in members) / len(members) for m in metrics},
            **{f"values_{m}": sorted(float(x[m]) for x in members) for m in metrics},
        }
    return out


def expected_usage(
    rows: list[dict[str, Any]], grain: str
) -> dict[tuple[Any, ...], tuple[int, int, int, int]]:
    """Per tenant,user,bucket: sums over days of the latest summary of each day."""
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        key = (r["tenant_id"], r["user_id"], r["date"])
        if key not in latest or r["received_at"] > latest[key]["received_at"]:
            latest[key] = r
    out: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (tenant, user, day), r in latest.items():
        bucket = day_buckets(date.fromisoformat(day))[grain]
        acc = out[(tenant, user, bucket)]
        acc[0] += r["session_count"]
        acc[1] += r["total_session_duration"]
        acc[2] += r["page_views"]
        acc[3] += r["unique_pages_visited"]
    return {k: (v[0], v[1], v[2], v[3]) for k, v in out.items()}


def expected_activities(rows: list[dict[str, Any]], grain: str) -> dict[tuple[Any, ...], int]:
    out: dict[tuple[Any, ...], int] = defaultdict(int)
    for r in rows:
        out[
            (
                r["tenant_id"],
                r["user_id"],
                local_buckets(ts(r), TENANT_ZONES[r["tenant_id"]])[grain],
                r["activity_type"],
                r["activity_category"],
                r["severity"],
            )
        ] += 1
    return dict(out)
