"""``GET /analytics/performance/{user_id}`` (raw samples) and ``/overview`` (from the performance rollup).

Web vitals are summarised by their p75 (the web-vitals convention), rated with web.dev's thresholds and
scored with Lighthouse's curves (:mod:`query_api.formulas`). Issue rules are in ``docs/metrics.md``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from query_api.admission import leave
from query_api.cache import ResultCache
from query_api.formulas import VITAL_THRESHOLDS, performance_score, vital_rating
from query_api.grouped import Grouped, grouped
from query_api.periods import Range, points
from query_api.readers.common import Page, page_of_rows, stored_json, time_conditions, utc
from query_api.readers.trends import TREND_METRICS, rollup_trends
from query_api.rollup_sql import Scope, as_point, select_rows
from query_api.store import QueryStore
from schemas.rollups import QUANTILES, rollup

P75 = QUANTILES.index(0.75) + 1  # ClickHouse arrays are 1-based
SLOWEST_PAGES = 5
MIN_PAGE_SAMPLES = 3
"""A page needs this many of the user's samples in the period before an issue is raised about it."""
SLOW_PAGE_MS = 3000.0
VERY_SLOW_PAGE_MS = 5000.0
ERROR_SPIKE_MIN = 5
ERROR_SPIKE_FACTOR = 2.0
"""Error events against the previous period: ≥ 5 and ≥ 2× is a ``warning`` spike, ≥ 5× an ``error``."""
ERROR_SPIKE_SEVERE_FACTOR = 5
OVERVIEW_METRICS = (
    "page_load_time",
    "first_contentful_paint",
    "largest_contentful_paint",
    "total_blocking_time",
    "cumulative_layout_shift",
    "first_input_delay",
)
"""The p75s the overview uses: the score's metrics, the core vitals and the page issues' (each merge of a
t-digest adds to the statement's time, ADR 0005, so time to first byte, which no field shows, is not read)."""
SCORED = (
    "first_contentful_paint",
    "largest_contentful_paint",
    "total_blocking_time",
    "cumulative_layout_shift",
)

COLUMNS = (
    "toString(id), user_id, session_id, timestamp, page, page_load_time, time_to_first_byte, "
    "first_contentful_paint, largest_contentful_paint, toFloat64(cumulative_layout_shift), "
    "first_input_delay, total_blocking_time, memory_usage, network_info, device_info, custom_metrics"
)


def p75(metric: str, condition: str = "") -> str:
    """The p75 of ``metric`` merged from the rollup's t-digest states (the declaration's own merge); with a
    ``condition``, only rows meeting it are merged (the ``-If`` combinator skips the others' digests)."""
    measure = next(m for m in rollup("user_performance").measures if m.name == f"q_{metric}")
    merge = measure.merge_expression()
    if condition:
        merge = merge.replace("Merge(", "MergeIf(", 1)[:-1] + f", {condition})"
    return f"{merge}[{P75}]"


async def list_performance(
    store: QueryStore, scope: Scope, span: Range, page: Page
) -> tuple[list[dict[str, Any]], int]:
    """One page of a user's raw performance samples in the range, newest first."""
    params: dict[str, Any] = {"tenant": scope.tenant_id, "user": scope.user_id}
    conditions = ["tenant_id = {tenant:String}", "user_id = {user:String}"]
    conditions += time_conditions(span.start, span.end, params)
    rows, total = await page_of_rows(store, "performance_metrics", COLUMNS, conditions, params, page)
    names = (
        "page_load_time",
        "time_to_first_byte",
        "first_contentful_paint",
        "largest_contentful_paint",
        "cumulative_layout_shift",
        "first_input_delay",
        "total_blocking_time",
    )
    samples = []
    for r in rows:
        sample: dict[str, Any] = {
            "id": r[0],
            "user_id": r[1],
            "session_id": r[2],
            "timestamp": utc(r[3]),
            "page": r[4],
        }
        sample.update(zip(names, r[5:12], strict=True))
        sample.update(
            memory_usage=stored_json(r[12]),
            network_info=stored_json(r[13]),
            device_info=stored_json(r[14]),
            custom_metrics=stored_json(r[15]),
        )
        samples.append(sample)
    return samples, total


@dataclass(frozen=True)
class PageStats:
    page: str
    samples: int
    average_load_time: float
    p75: dict[str, float]


PERFORMANCE_COLUMNS = ("page", "samples", *(f"q_{m}" for m in OVERVIEW_METRICS))
PERFORMANCE_EXPRESSIONS = ("sum(samples)", *(p75(m, "is_current = 1") for m in OVERVIEW_METRICS))
"""Percentiles of the current period only: the previous period needs just its mean load time."""


async def performance_rows(
    store: QueryStore, scope: Scope, span: Range, previous: Range
) -> tuple[dict[str, Any], Grouped]:
    """The average-load-time trend and, from the same statement, what the overview is built from."""
    found, result = await rollup_trends(
        store,
        scope,
        span,
        previous,
        [TREND_METRICS["average_load_time"]],
        PERFORMANCE_COLUMNS,
        PERFORMANCE_EXPRESSIONS,
        {"pages": ("page",)},
    )
    return found[0], result


async def performance_overview(
    store: QueryStore, scope: Scope, span: Range, previous: Range, shared: ResultCache
) -> dict[str, Any]:
    """``GET /analytics/performance/{user_id}/overview``."""
    (_, result), errors = await asyncio.gather(
        performance_rows(store, scope, span, previous), error_events(store, scope, span, previous)
    )
    leave()  # only tenant-wide reads (affected users) are left: no slot held while one is computed
    return await overview_from(store, scope, span, result, errors, shared)


async def overview_from(
    store: QueryStore,
    scope: Scope,
    span: Range,
    result: Grouped,
    errors: tuple[int, int],
    shared: ResultCache,
) -> dict[str, Any]:
    """Average load time, score, p75 vitals, slowest pages, per-point trend and detected issues, from the
    rows of :func:`performance_rows` (values: mean load time, samples, then p75 of each metric)."""
    totals = result.totals.get(True)
    samples = int(totals[1] or 0) if totals else 0
    vitals = dict(zip(OVERVIEW_METRICS, totals[2:], strict=True)) if totals and samples else {}
    pages = [
        PageStats(keys[0], int(v[1]), float(v[0]), dict(zip(OVERVIEW_METRICS, v[2:], strict=True)))
        for keys, v in result.sets["pages"]
        if keys[0] != ""
    ]
    point_rows = [
        (keys[0], v[0], *(v[2 + OVERVIEW_METRICS.index(m)] for m in SCORED))
        for keys, v in result.sets["series"]
    ]
    issues = await _issues(store, scope, span, pages, errors, shared)
    slowest = sorted(pages, key=lambda p: (-p.average_load_time, p.page))[:SLOWEST_PAGES]
    core = {
        "lcp": _num(vitals.get("largest_contentful_paint")),
        "fid": _num(vitals.get("first_input_delay")),
        "cls": _num(vitals.get("cumulative_layout_shift"), 3),
    }
    return {
        "average_load_time": round(float(totals[0]), 2) if totals and samples else 0.0,
        "performance_score": performance_score(vitals) if samples else None,
        "core_web_vitals": core,
        "core_web_vitals_ratings": {
            "lcp": vital_rating("largest_contentful_paint", core["lcp"]),
            "fid": vital_rating("first_input_delay", core["fid"]),
            "cls": vital_rating("cumulative_layout_shift", core["cls"]),
        },
        "samples": samples,
        "slowest_pages": [
            {"page": p.page, "average_load_time": round(p.average_load_time, 2), "visits": p.samples}
            for p in slowest
        ],
        "performance_trends": _trend_points(span, point_rows),
        "issues": issues,
    }


def _trend_points(span: Range, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """One point per series point of the range; points without samples carry ``None``."""
    measured = {
        as_point(r[0]): (round(float(r[1]), 2), performance_score(dict(zip(SCORED, r[2:], strict=True))))
        for r in rows
    }
    return [
        {
            "date": point,
            "average_load_time": measured.get(point, (None, None))[0],
            "performance_score": measured.get(point, (None, None))[1],
        }
        for point in points(span)
    ]


def _shown(metric: str, value: float) -> str:
    return f"{value:.3f}" if metric == "cumulative_layout_shift" else f"{value:.0f} ms"


def _num(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


PAGE_RULES: tuple[tuple[str, str, float, str], ...] = (
    ("slow_page", "page_load_time", SLOW_PAGE_MS, "loads slowly"),
    (
        "poor_lcp",
        "largest_contentful_paint",
        VITAL_THRESHOLDS["largest_contentful_paint"][1],
        "has a poor LCP",
    ),
    ("poor_cls", "cumulative_layout_shift", VITAL_THRESHOLDS["cumulative_layout_shift"][1], "has a poor CLS"),
    ("poor_fid", "first_input_delay", VITAL_THRESHOLDS["first_input_delay"][1], "has a poor FID"),
)
"""(issue type, metric, p75 above which the issue is raised, wording)."""


async def _issues(
    store: QueryStore,
    scope: Scope,
    span: Range,
    pages: list[PageStats],
    errors: tuple[int, int],
    shared: ResultCache,
) -> list[dict[str, Any]]:
    found: list[tuple[str, PageStats, str, float]] = []
    for page in pages:
        if page.samples < MIN_PAGE_SAMPLES:
            continue
        for kind, metric, threshold, _ in PAGE_RULES:
            if page.p75[metric] > threshold:
                found.append((kind, page, metric, threshold))
    affected: dict[str, dict[str, int]] = {}
    if found:
        affected = await shared.get_or_compute(
            ("affected_users", scope.tenant_id, span.start, span.end),
            partial(_affected_users, store, scope.tenant_id, span),
        )
    # the user whose own p75 raised the issue is one of them, even while the shared counts lag behind
    themselves = 1 if scope.user_id is not None else 0
    issues: list[dict[str, Any]] = []
    for kind, page, metric, threshold in found:
        value = page.p75[metric]
        severity = "error" if kind != "slow_page" or value > VERY_SLOW_PAGE_MS else "warning"
        wording = next(rule[3] for rule in PAGE_RULES if rule[0] == kind)
        issues.append(
            {
                "type": kind,
                "severity": severity,
                "page": page.page,
                "description": f"{page.page} {wording}: p75 {_shown(metric, value)} above {threshold:g}",
                "metric": metric,
                "value": round(value, 3),
                "threshold": threshold,
                "affected_users": max(affected.get(page.page, {}).get(metric, 0), themselves),
            }
        )
    spike = error_spike(scope, *errors)
    if spike is not None:
        issues.append(spike)
    order = {"error": 0, "warning": 1}
    return sorted(issues, key=lambda i: (order.get(i["severity"], 2), i["type"], i["page"] or ""))


async def _affected_users(store: QueryStore, tenant_id: str, span: Range) -> dict[str, dict[str, int]]:
    """Per page and metric: users of the tenant whose own p75 on the page is beyond the rule's threshold.
    Tenant-wide, so it is shared by every dashboard of the tenant for a while (``query_tenant_cache_ttl_s``),
    and every page is counted in one statement: a tenant has hundreds of pages, and one statement per
    flagged page meant a cold tenant-wide read for nearly every new dashboard, while all pages at once cost
    little more than one of them (ADR 0005)."""
    metrics = [rule[1] for rule in PAGE_RULES]
    params: dict[str, Any] = {f"threshold{i}": rule[2] for i, rule in enumerate(PAGE_RULES)}
    per_user = select_rows(
        rollup("user_performance"),
        span,
        Scope(tenant_id, None),
        params,
        "page, user_id, " + ", ".join(f"{p75(m)} AS p75_{i}" for i, m in enumerate(metrics)),
        tail="GROUP BY page, user_id",
    )
    beyond = ", ".join(
        f"countIf(p75_{i} > {{threshold{i}:Float64}}) AS beyond_{i}" for i in range(len(metrics))
    )
    any_beyond = " OR ".join(f"beyond_{i} > 0" for i in range(len(metrics)))
    # only pages with an affected user: page paths may carry ids, and the rest would all be zeros
    rows = await store.rows(
        f"SELECT page, {beyond} FROM ({per_user}) GROUP BY page HAVING {any_beyond}", params
    )
    return {row[0]: dict(zip(metrics, map(int, row[1:]), strict=True)) for row in rows}


async def error_events(store: QueryStore, scope: Scope, span: Range, previous: Range) -> tuple[int, int]:
    """Error events in the range and in the previous one: the ``errors`` trend metric's totals, one pass."""
    metric = TREND_METRICS["errors"]
    result = await grouped(
        store, rollup(metric.rollup), scope, span, previous, metric.columns, [metric.expression]
    )
    return int(result.total(True, 0) or 0), int(result.total(False, 0) or 0)


def error_spike(scope: Scope, current: int, before: int) -> dict[str, Any] | None:
    """The error-spike issue, if error events of the period against the previous one make one."""
    if current < ERROR_SPIKE_MIN or current < ERROR_SPIKE_FACTOR * before:
        return None
    severity = "error" if current >= ERROR_SPIKE_SEVERE_FACTOR * max(before, 1) else "warning"
    return {
        "type": "error_spike",
        "severity": severity,
        "page": None,
        "description": f"{current} error events against {before} in the previous period",
        "metric": "error_events",
        "value": float(current),
        "threshold": float(max(ERROR_SPIKE_MIN, ERROR_SPIKE_FACTOR * before)),
        "affected_users": 1 if scope.user_id is not None else 0,
    }
