"""``GET /analytics/usage/{user_id}`` (daily summaries), ``/trends`` and the dashboard's usage block.

Daily usage summaries are replaced by later posts for the same day (read ``FINAL``, or the newest version
kept in Python where one statement reads the stored rows as they are). Counts add up over days;
``engagement_score`` is the mean over the days with a summary; ``average_session_duration`` is total
duration over sessions. Segments and adoption are defined in ``docs/metrics.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from query_api.cache import ResultCache
from query_api.formulas import ratio, user_segment
from query_api.periods import ParameterError, Range, points
from query_api.readers.common import Page, page_of_rows, stored_json
from query_api.rollup_sql import Scope, as_date, as_point, point_expression, select_rows, source, summary_days
from query_api.store import QueryStore
from schemas.rollups import rollup

USAGE_METRICS = (
    "session_count",
    "total_session_duration",
    "average_session_duration",
    "page_views",
    "unique_pages_visited",
    "engagement_score",
)
MOST_USED_FEATURES = 5

COLUMNS = (
    "toString(id), user_id, date, session_count, total_session_duration, average_session_duration, "
    "page_views, unique_pages_visited, features_used, toFloat64(engagement_score), retention_data, "
    "conversion_data, user_flow"
)


async def list_usage(
    store: QueryStore, scope: Scope, span: Range, page: Page
) -> tuple[list[dict[str, Any]], int]:
    """A user's daily summaries in the range (latest post per day), newest day first."""
    conditions = [
        "tenant_id = {tenant:String}",
        "user_id = {user:String}",
        "date BETWEEN {first:Date} AND {last:Date}",
    ]
    first, last = summary_days(span) if span.is_hourly else (span.first_day, span.last_day)
    params = {"tenant": scope.tenant_id, "user": scope.user_id, "first": first, "last": last}
    rows, total = await page_of_rows(
        store, "usage_metrics", COLUMNS, conditions, params, page, order="date DESC"
    )
    return [
        {
            "id": r[0],
            "user_id": r[1],
            "date": as_date(r[2]),
            "session_count": r[3],
            "total_session_duration": r[4],
            "average_session_duration": r[5],
            "page_views": r[6],
            "unique_pages_visited": r[7],
            "features_used": stored_json(r[8], []),
            "engagement_score": round(r[9], 2),
            "retention_data": stored_json(r[10]),
            "conversion_data": stored_json(r[11]),
            "user_flow": stored_json(r[12], []),
        }
        for r in rows
    ], total


@dataclass(frozen=True)
class UsageTotals:
    days: int
    session_count: int
    total_session_duration: int
    page_views: int
    unique_pages_visited: int
    engagement_sum: float

    def value(self, metric: str) -> float:
        if metric == "engagement_score":
            return mean_of_cents(self.engagement_sum, self.days)
        if metric == "average_session_duration":
            return round(ratio(self.total_session_duration, self.session_count) or 0.0, 2)
        return float(getattr(self, metric))


def mean_of_cents(total: float, count: int) -> float:
    """Mean of values with two decimals (scores are stored as ``Decimal(5, 2)``), rounded half up: the
    float sum is first snapped back to whole cents so the result does not depend on summation order."""
    if count == 0:
        return 0.0
    cents = Decimal(round(total * 100)) / 100
    return float((cents / count).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


_SUMS = (
    "count(), sum(session_count), sum(total_session_duration), sum(page_views), sum(unique_pages_visited), "
    "sum(engagement_score)"
)


def _totals(row: Any) -> UsageTotals:
    return UsageTotals(
        int(row[0]),
        int(row[1] or 0),
        int(row[2] or 0),
        int(row[3] or 0),
        int(row[4] or 0),
        float(row[5] or 0),
    )


async def usage_totals(store: QueryStore, scope: Scope, span: Range) -> UsageTotals:
    params: dict[str, Any] = {}
    rows = await store.rows(select_rows(rollup("user_usage"), span, scope, params, _SUMS), params)
    return _totals(rows[0])


def check_metric(metric: str) -> str:
    if metric not in USAGE_METRICS:
        raise ParameterError("metric", f"unknown metric {metric!r}; one of: {', '.join(USAGE_METRICS)}")
    return metric


async def usage_series(store: QueryStore, scope: Scope, span: Range, metric: str) -> list[dict[str, Any]]:
    """``metric`` per series point; points without a summary are zero. Summaries are daily, so an hourly
    range's series has a point per day it touches."""
    params: dict[str, Any] = {}
    point = point_expression(span, params)
    sql = select_rows(
        rollup("user_usage"), span, scope, params, f"{point} AS point, {_SUMS}", tail="GROUP BY point"
    )
    rows = await store.rows(sql, params)
    values = {as_point(r[0]): _totals(r[1:]).value(metric) for r in rows}
    keys = _days_between(*summary_days(span)) if span.is_hourly else points(span)
    return [{"date": day, "value": values.get(day, 0.0)} for day in keys]


def _days_between(first: date, last: date) -> list[date | datetime]:
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def _current_features(span: Range, scope: Scope, params: dict[str, Any]) -> str:
    """Feature rows of the winning summary of each user-day only: a corrected summary that drops a
    feature must not leave the old version's row behind (it has no newer row to replace it)."""
    features = source(rollup("feature_usage"), span, scope, params, prefix="f")
    summaries = source(
        rollup("user_usage"), span, scope, params, prefix="s", columns="user_id, date, received_at"
    )
    return f"(SELECT * FROM {features} WHERE (user_id, date, received_at) IN ({summaries}))"


@dataclass(frozen=True)
class UsageFacts:
    """What the dashboard's usage block is computed from."""

    active_days: int | None
    """``None`` for an hourly range: it counts as one day, active when it holds an event."""
    first_seen: date | None
    feature_counts: dict[str, int]
    """The user's usage count per feature in the range."""
    feature_users: dict[str, int]
    """Users of the tenant per feature in the range."""


@dataclass(frozen=True)
class UsageSummary:
    totals: UsageTotals
    feature_counts: dict[str, int]
    """The user's usage count per feature in the range."""


_SUMMARY = (
    "user_id, date, received_at, session_count, total_session_duration, page_views, unique_pages_visited, "
    "toFloat64(engagement_score), feature_uses, features_recorded"
)
_SUMMARY_ROW = (
    "1 AS kind, user_id, date, received_at, session_count, total_session_duration, page_views, "
    "unique_pages_visited, toFloat64(engagement_score) AS score, '' AS feature, toUInt64(0) AS uses, "
    "'' AS category"
)
_FEATURE_ROW = (
    "2, user_id, date, received_at, 0, 0, 0, 0, toFloat64(0), feature_name, toUInt64(usage_count), category"
)


async def usage_summary(store: QueryStore, scope: Scope, span: Range) -> UsageSummary:
    """The dashboard's usage totals and feature counts from one read of the daily summaries.

    The statement returns the range's stored summaries as they are, without ``FINAL`` (a few rows per
    day; ``FINAL`` was a large share of the statement in chDB: ADR 0005); the newest version of each
    (user, day) is kept here, exactly what ``FINAL`` keeps, and its ``feature_uses`` are the day's feature
    counts. When the newest summary of some day was stored before summaries carried them (migration 0017),
    the counts come from the per-feature rollup instead (:func:`_with_feature_rows`)."""
    params: dict[str, Any] = {}
    rows = await store.rows(
        select_rows(rollup("user_usage"), span, scope, params, _SUMMARY, final=False), params
    )
    newest: dict[tuple[Any, ...], Sequence[Any]] = {}
    for row in rows:
        _keep_newest(newest, (row[0], row[1]), row, 2)
    days = newest.values()
    if not all(row[9] for row in days):
        return await _with_feature_rows(store, scope, span)
    counts: dict[str, int] = {}
    for row in days:
        for name, uses in row[8].items():
            counts[name] = counts.get(name, 0) + int(uses)
    return UsageSummary(_totals_of(days), counts)


def _keep_newest(
    kept: dict[tuple[Any, ...], Sequence[Any]], key: tuple[Any, ...], row: Sequence[Any], version: int
) -> None:
    """Keep ``row`` under ``key`` unless a row with a later ``row[version]`` (``received_at``) is kept:
    what ``FINAL`` keeps of a replacing rollup's versions."""
    held = kept.get(key)
    if held is None or row[version] > held[version]:
        kept[key] = row


def _totals_of(days: Iterable[Sequence[Any]]) -> UsageTotals:
    """The totals of the newest summaries (``user_id, date, received_at`` first, then the five values)."""
    kept = list(days)
    return UsageTotals(
        len(kept),
        sum(int(r[3]) for r in kept),
        sum(int(r[4]) for r in kept),
        sum(int(r[5]) for r in kept),
        sum(int(r[6]) for r in kept),
        sum(float(r[7]) for r in kept),
    )


async def _with_feature_rows(store: QueryStore, scope: Scope, span: Range) -> UsageSummary:
    """The usage totals and feature counts from the summaries and the per-feature rollup, for ranges
    holding summaries stored before they carried their features' counts (migration 0017).

    One read of the two tables: the newest version of each summary (user, day) and of each feature row
    (user, day, feature, category) is kept here, what ``FINAL`` keeps; then only the winning summary's
    feature rows count, as in :func:`_current_features`."""
    params: dict[str, Any] = {}
    summaries = select_rows(rollup("user_usage"), span, scope, params, _SUMMARY_ROW, prefix="s", final=False)
    features = select_rows(
        rollup("feature_usage"), span, scope, params, _FEATURE_ROW, prefix="f", final=False
    )
    rows = await store.rows(f"{summaries} UNION ALL {features}", params)
    newest: dict[tuple[Any, ...], Sequence[Any]] = {}
    feature_rows: dict[tuple[Any, ...], Sequence[Any]] = {}
    for row in rows:
        if row[0] == 1:
            _keep_newest(newest, (row[1], row[2]), row, 3)
        else:
            _keep_newest(feature_rows, (row[1], row[2], row[9], row[11]), row, 3)
    counts: dict[str, int] = {}
    for row in feature_rows.values():
        winner = newest.get((row[1], row[2]))
        if winner is not None and winner[3] == row[3]:
            counts[row[9]] = counts.get(row[9], 0) + int(row[10])
    return UsageSummary(_totals_of(row[1:] for row in newest.values()), counts)


async def tenant_feature_users(
    store: QueryStore, scope: Scope, span: Range, shared: ResultCache
) -> dict[str, int]:
    """Users of the tenant per feature in the range, shared by every dashboard of the tenant for a while
    (it reads every user's rows)."""
    found: dict[str, int] = await shared.get_or_compute(
        ("feature_users", scope.tenant_id, span.start, span.end),
        lambda: feature_users(store, scope.tenant_id, span),
    )
    return found


async def feature_users(store: QueryStore, tenant_id: str, span: Range) -> dict[str, int]:
    """Users of the tenant per feature in the range."""
    params: dict[str, Any] = {}
    features = _current_features(span, Scope(tenant_id, None), params)
    rows = await store.rows(
        f"SELECT feature_name, uniqExact(user_id) FROM {features} GROUP BY feature_name", params
    )
    return {r[0]: int(r[1]) for r in rows}


def usage_block(facts: UsageFacts, span: Range, events: int, sessions: int) -> dict[str, Any]:
    """Daily active users, session frequency, feature adoption, most used features and the user's segment."""
    days = facts.active_days if facts.active_days is not None else (1 if events else 0)
    last_day = span.last_day or span.end.astimezone(UTC).date()
    ranked = sorted(facts.feature_counts.items(), key=lambda f: (-f[1], f[0]))[:MOST_USED_FEATURES]
    since_first = None if facts.first_seen is None else (last_day - facts.first_seen).days
    segment = user_segment(days, span.days, since_first)
    return {
        "daily_active_users": round(days / span.days, 2),
        "session_frequency": round(ratio(sessions, days) or 0.0, 2),
        "feature_adoption_rate": round(ratio(len(facts.feature_counts), len(facts.feature_users)) or 0.0, 4),
        "most_used_features": [
            {"feature_name": name, "usage_count": count, "users": facts.feature_users.get(name, 0)}
            for name, count in ranked
        ],
        "user_segments": [] if segment is None else [{"segment": segment, "users": 1, "percentage": 100.0}],
    }
