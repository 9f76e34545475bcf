"""A dataset for the query API tests and the expected answers computed from it in plain Python.

The dataset is built around a fixed "now" in a tenant zone west of UTC (local days differ from UTC days),
with sessions that cross local midnight, usage summaries re-sent with corrections, pages whose web vitals
sit far from every threshold (so t-digest estimates cannot flip a rule), and a second tenant whose data
must never be counted.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from statistics import fmean
from typing import Any
from zoneinfo import ZoneInfo

NOW = datetime(2027, 1, 5, 15, 30, tzinfo=UTC)
ZONE_NAME = "America/New_York"
ZONE = ZoneInfo(ZONE_NAME)
TENANT = "default"
OTHER_TENANT = "acme"
MAIN = "u_main"
PEERS = ("u_peer1", "u_peer2", "u_peer3")
HISTORY_DAYS = 200
PAGES = ("/home", "/projects", "/editor", "/settings", "/slow", "/shifty", "/laggy")
EVENT_NAMES = ("page_view", "page_view", "page_view", "click", "save", "open_project", "export")
FEATURES = ("editor", "export", "share", "comments")
PEER_FEATURES = ("editor", "templates", "publish")
VITALS = (
    "page_load_time",
    "time_to_first_byte",
    "first_contentful_paint",
    "largest_contentful_paint",
    "first_input_delay",
    "total_blocking_time",
)


@dataclass
class Dataset:
    events: list[dict[str, Any]] = field(default_factory=list)
    performance: list[dict[str, Any]] = field(default_factory=list)
    usage: list[dict[str, Any]] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ts(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))


def _vitals(rng: random.Random, page: str, slow_peer: bool) -> dict[str, Any]:
    load = rng.uniform(7000, 9000) if page == "/slow" and slow_peer else rng.uniform(500, 2000)
    return {
        "page_load_time": int(load),
        "time_to_first_byte": rng.randint(100, 600),
        "first_contentful_paint": rng.randint(2000, 2900) if page == "/slow" else rng.randint(400, 1500),
        "largest_contentful_paint": rng.randint(5000, 7000)
        if page == "/slow" and slow_peer
        else rng.randint(900, 2200),
        "first_input_delay": rng.randint(400, 700) if page == "/laggy" else rng.randint(10, 80),
        "total_blocking_time": rng.randint(300, 700) if page == "/slow" else rng.randint(0, 150),
        "cumulative_layout_shift": round(rng.uniform(0.3, 0.6), 3)
        if page == "/shifty"
        else round(rng.uniform(0, 0.05), 3),
    }


def generate(seed: int = 5) -> Dataset:
    rng = random.Random(seed)
    data = Dataset()
    received = NOW - timedelta(minutes=1)

    def base(tenant: str, user: str) -> dict[str, Any]:
        return {
            "tenant_id": tenant,
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "user_id": user,
            "received_at": iso(received),
            "time_clamped": False,
            "schema_version": 1,
        }

    def moment(days: int = HISTORY_DAYS) -> datetime:
        return NOW - timedelta(seconds=rng.uniform(0, days * 86400))

    people = [(TENANT, MAIN, 4000), *((TENANT, p, 400) for p in PEERS), (OTHER_TENANT, MAIN, 800)]
    for tenant, user, count in people:
        for _ in range(count):
            when = moment()
            name = rng.choice(EVENT_NAMES)
            error = rng.random() < 0.06
            data.events.append(
                {
                    **base(tenant, user),
                    # 3-hour UTC blocks: sessions that straddle the tenant's local midnight
                    "session_id": f"s_{user}_{int(when.timestamp()) // 10800}",
                    "event_type": "error_event" if error else rng.choice(["user_action", "engagement_event"]),
                    "event_name": name,
                    "event_category": "errors"
                    if error
                    else rng.choice(["navigation", "interaction", "projects"]),
                    "properties": {"page": rng.choice(PAGES)}
                    if name == "page_view" or rng.random() < 0.2
                    else {},
                    "source": "web_app",
                    "platform": "web",
                    "timestamp": iso(when),
                }
            )
    samples = [(TENANT, MAIN, 700, True), (TENANT, "u_peer1", 200, True), (TENANT, "u_peer2", 200, False)]
    for tenant, user, count, slow in [*samples, (OTHER_TENANT, MAIN, 200, True)]:
        for _ in range(count):
            page = rng.choice(PAGES)
            data.performance.append(
                {
                    **base(tenant, user),
                    "session_id": f"s_{user}",
                    "page": page,
                    **_vitals(rng, page, slow),
                    "timestamp": iso(moment()),
                }
            )
    today = NOW.astimezone(ZONE).date()
    for tenant, user, features in [
        (TENANT, MAIN, FEATURES),
        (TENANT, "u_peer1", PEER_FEATURES),
        (OTHER_TENANT, MAIN, ("secret",)),
    ]:
        for back in range(150):
            if rng.random() < 0.3:
                continue
            day = today - timedelta(days=back)
            for version in range(2 if rng.random() < 0.2 else 1):  # some days are re-sent, corrected
                data.usage.append(
                    {
                        **base(tenant, user),
                        "received_at": iso(received + timedelta(seconds=version)),
                        "date": day.isoformat(),
                        "session_count": rng.randint(1, 9),
                        "total_session_duration": rng.randint(60, 9000),
                        "average_session_duration": 100,
                        "page_views": rng.randint(0, 60),
                        "unique_pages_visited": rng.randint(0, 9),
                        "features_used": [
                            {
                                "feature_name": f,
                                "category": "projects",
                                "usage_count": rng.randint(1, 12),
                                "total_time_spent": rng.randint(0, 600),
                            }
                            for f in rng.sample(features, rng.randint(1, len(features)))
                        ],
                        "engagement_score": round(rng.uniform(0, 100), 2),
                    }
                )
    for tenant, user, count in [(TENANT, MAIN, 600), (OTHER_TENANT, MAIN, 100)]:
        for _ in range(count):
            data.activities.append(
                {
                    **base(tenant, user),
                    "session_id": f"s_{user}",
                    "activity_type": rng.choice(["user_action", "api_call", "data_change", "error"]),
                    "activity_category": rng.choice(["projects", "assets", "security"]),
                    "description": f"did {rng.randint(0, 999)}",
                    "severity": rng.choice(["info", "info", "info", "warning", "error", "critical"]),
                    "tags": ["t"],
                    "timestamp": iso(moment()),
                }
            )
    return data


# ---- the oracle ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A range as the oracle sees it: UTC instants, and local days (``None`` for hourly ranges)."""

    start: datetime
    end: datetime
    first_day: date | None
    last_day: date | None

    @property
    def days(self) -> int:
        return (
            1
            if self.first_day is None or self.last_day is None
            else (self.last_day - self.first_day).days + 1
        )

    def holds(self, row: dict[str, Any]) -> bool:
        return self.start <= ts(row) < self.end

    def holds_day(self, day: date) -> bool:
        if self.first_day is None or self.last_day is None:
            return self.start.date() <= day <= (self.end - timedelta(milliseconds=1)).date()
        return self.first_day <= day <= self.last_day


def local_day(moment: datetime) -> date:
    return moment.astimezone(ZONE).date()


def point_of(moment: datetime, span: Span) -> date | datetime:
    """The series point of an instant: UTC hour, or local day / week / month clipped to the range."""
    if span.first_day is None:
        return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return day_point(local_day(moment), span)


def day_point(day: date, span: Span) -> date:
    assert span.first_day is not None
    if span.days <= 92:
        return day
    start = day - timedelta(days=day.weekday()) if span.days <= 366 else day.replace(day=1)
    return max(start, span.first_day)


def mine(rows: Iterable[dict[str, Any]], user: str = MAIN) -> list[dict[str, Any]]:
    return [r for r in rows if r["tenant_id"] == TENANT and r["user_id"] == user]


def latest_usage(rows: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The summary that wins per (tenant, user, date): the latest received."""
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["tenant_id"], row["user_id"], row["date"])
        if key not in latest or row["received_at"] > latest[key]["received_at"]:
            latest[key] = row
    return latest


def usage_in(data: Dataset, span: Span, user: str | None = MAIN) -> list[dict[str, Any]]:
    return [
        r
        for (tenant, who, day), r in latest_usage(data.usage).items()
        if tenant == TENANT and (user is None or who == user) and span.holds_day(date.fromisoformat(day))
    ]


def mean_half_up(values: list[float]) -> float:
    """Mean of two-decimal values, rounded half up to two decimals, in exact decimal arithmetic."""
    if not values:
        return 0.0
    total = sum((Decimal(str(v)) for v in values), Decimal(0))
    return float((total / len(values)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def pct(part: float, whole: float) -> float:
    return 0.0 if whole == 0 else round(part / whole * 100, 2)


def overview(data: Dataset, span: Span) -> dict[str, Any]:
    events = [e for e in mine(data.events) if span.holds(e)]
    sessions = {e["session_id"] for e in events}
    views_per_session = Counter(e["session_id"] for e in events if e["event_name"] == "page_view")
    bounced = sum(1 for n in views_per_session.values() if n == 1)
    usage = usage_in(data, span)
    count = sum(r["session_count"] for r in usage)
    duration = sum(r["total_session_duration"] for r in usage)
    names = Counter(e["event_name"] for e in events)
    pages: dict[str, list[str]] = defaultdict(list)
    for e in events:
        if e["event_name"] == "page_view" and e["properties"].get("page"):
            pages[e["properties"]["page"]].append(e["session_id"])
    top_pages = sorted(pages.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:5]
    return {
        "total_events": len(events),
        "unique_sessions": len(sessions),
        "average_session_duration": round(duration / count, 2) if count else 0.0,
        "bounce_rate": round(bounced / len(views_per_session), 4) if views_per_session else 0.0,
        "engagement_score": mean_half_up([r["engagement_score"] for r in usage]),
        "top_events": [
            {"event_name": n, "count": c, "percentage": pct(c, len(events))}
            for n, c in sorted(names.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        ],
        "top_pages": [{"page": p, "views": len(s), "unique_views": len(set(s))} for p, s in top_pages],
    }


def p75_bounds(values: list[float]) -> tuple[float, float]:
    """Where a t-digest p75 of ``values`` may land: between order statistics 2 % of ranks either side."""
    ordered = sorted(values)
    n = len(ordered)
    slack = max(1, int(0.02 * n))
    rank = 0.75 * (n - 1)
    return ordered[max(0, int(rank) - slack)], ordered[min(n - 1, int(rank) + 1 + slack)]


def performance(data: Dataset, span: Span) -> dict[str, Any]:
    rows = [r for r in mine(data.performance) if span.holds(r)]
    by_page: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_page[r["page"]].append(r)
    slowest = sorted(
        ((p, fmean(r["page_load_time"] for r in rs), len(rs)) for p, rs in by_page.items()),
        key=lambda item: (-item[1], item[0]),
    )[:5]
    points: dict[date | datetime, list[float]] = defaultdict(list)
    for r in rows:
        points[point_of(ts(r), span)].append(r["page_load_time"])
    return {
        "samples": len(rows),
        "average_load_time": round(fmean(r["page_load_time"] for r in rows), 2) if rows else 0.0,
        "values": {m: [float(r[m]) for r in rows] for m in (*VITALS, "cumulative_layout_shift")},
        "slowest_pages": [{"page": p, "average_load_time": round(a, 2), "visits": n} for p, a, n in slowest],
        "trend_points": {k: round(fmean(v), 2) for k, v in points.items()},
        "pages": by_page,
    }


def expected_issues(data: Dataset, span: Span, previous: Span) -> set[tuple[str, str | None, int]]:
    """(type, page, affected users) of every issue the rules should raise (values sit far from thresholds)."""
    rules = (
        ("slow_page", "page_load_time", 3000),
        ("poor_lcp", "largest_contentful_paint", 4000),
        ("poor_cls", "cumulative_layout_shift", 0.25),
        ("poor_fid", "first_input_delay", 300),
    )
    found: set[tuple[str, str | None, int]] = set()
    for page, rows in performance(data, span)["pages"].items():
        if len(rows) < 3:
            continue
        for kind, metric, threshold in rules:
            low, _ = p75_bounds([float(r[metric]) for r in rows])
            if low > threshold:
                affected = 0
                for user in (MAIN, *PEERS):
                    theirs = [
                        float(r[metric])
                        for r in mine(data.performance, user)
                        if span.holds(r) and r["page"] == page
                    ]
                    if theirs and p75_bounds(theirs)[0] > threshold:
                        affected += 1
                found.add((kind, page, affected))
    now_errors = sum(1 for e in mine(data.events) if span.holds(e) and e["event_type"] == "error_event")
    before = sum(1 for e in mine(data.events) if previous.holds(e) and e["event_type"] == "error_event")
    if now_errors >= 5 and now_errors >= 2 * before:
        found.add(("error_spike", None, 1))
    return found


def trend_values(data: Dataset, span: Span, metric: str) -> tuple[float, dict[date | datetime, float]]:
    """(period value, value per series point) of a trend metric."""
    events = [e for e in mine(data.events) if span.holds(e)]
    if metric in ("events", "errors", "page_views"):
        keep = {
            "events": lambda e: True,
            "errors": lambda e: e["event_type"] == "error_event",
            "page_views": lambda e: e["event_name"] == "page_view",
        }[metric]
        chosen = [e for e in events if keep(e)]
        series = Counter(point_of(ts(e), span) for e in chosen)
        return float(len(chosen)), {k: float(v) for k, v in series.items()}
    if metric == "sessions":
        per_point: dict[date | datetime, set[str]] = defaultdict(set)
        for e in events:
            per_point[point_of(ts(e), span)].add(e["session_id"])
        return float(len({e["session_id"] for e in events})), {k: float(len(v)) for k, v in per_point.items()}
    if metric == "activities":
        rows = [a for a in mine(data.activities) if span.holds(a)]
        counts = Counter(point_of(ts(a), span) for a in rows)
        return float(len(rows)), {k: float(v) for k, v in counts.items()}
    assert metric == "average_load_time"
    perf = performance(data, span)
    return perf["average_load_time"], perf["trend_points"]


def change(current: float, previous: float) -> float | None:
    return None if previous == 0 else round((current - previous) / previous * 100, 2)


def trend_word(current: float, previous: float) -> str:
    if previous == 0:
        return "up" if current > 0 else "stable"
    moved = (current - previous) / abs(previous) * 100
    return "up" if moved > 5 else "down" if moved < -5 else "stable"


def activity(data: Dataset, span: Span) -> dict[str, Any]:
    rows = [a for a in mine(data.activities) if span.holds(a)]

    def breakdown(key: str) -> list[dict[str, Any]]:
        counts = Counter(a[key] for a in rows)
        return [
            {"type": k, "count": c, "percentage": pct(c, len(rows))}
            for k, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ]

    recent = sorted(rows, key=lambda a: (ts(a), a["id"]), reverse=True)[:5]
    return {
        "total_activities": len(rows),
        "activity_breakdown": breakdown("activity_type"),
        "category_breakdown": breakdown("activity_category"),
        "severity_breakdown": breakdown("severity"),
        "recent_ids": [a["id"] for a in recent],
    }


def usage_block(data: Dataset, span: Span, sessions: int) -> dict[str, Any]:
    events = [e for e in mine(data.events) if span.holds(e)]
    if span.first_day is None:
        active = 1 if events else 0
        last_day = (span.end - timedelta(milliseconds=1)).date()
    else:
        active = len({local_day(ts(e)) for e in events})
        last_day = span.last_day
    assert last_day is not None
    counts: Counter[str] = Counter()
    for r in usage_in(data, span):
        for f in r["features_used"]:
            counts[f["feature_name"]] += f["usage_count"]
    users_of: dict[str, set[str]] = defaultdict(set)
    for r in usage_in(data, span, user=None):
        for f in r["features_used"]:
            users_of[f["feature_name"]].add(r["user_id"])
    first = min(local_day(ts(e)) for e in mine(data.events))
    share = active / span.days
    if not active:
        segments = []
    else:
        if (last_day - first).days < 14:
            name = "new_user"
        elif share >= 0.5:
            name = "power_user"
        elif share >= 0.2:
            name = "regular_user"
        else:
            name = "casual_user"
        segments = [{"segment": name, "users": 1, "percentage": 100.0}]
    return {
        "daily_active_users": round(active / span.days, 2),
        "session_frequency": round(sessions / active, 2) if active else 0.0,
        "feature_adoption_rate": round(len(counts) / len(users_of), 4) if users_of else 0.0,
        "most_used_features": [
            {"feature_name": n, "usage_count": c, "users": len(users_of[n])}
            for n, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        ],
        "user_segments": segments,
    }
