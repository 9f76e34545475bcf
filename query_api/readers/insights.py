"""Insight rules: plain functions of the numbers the dashboard already computed (no extra queries).

Each rule states when it fires, its priority, its impact and fixed recommendations; ``docs/metrics.md``
lists them. An insight's id is stable for the same tenant, user, rule, subject and period start, so a
client can tell a new insight from one it has seen.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from query_api.rollup_sql import Scope

LOAD_TIME_CHANGE_PCT = 10.0
SESSIONS_CHANGE_PCT = 20.0
HIGH_BOUNCE_RATE = 0.6
BOUNCE_MIN_SESSIONS = 10
LOW_ADOPTION_RATE = 0.3
ADOPTION_MIN_FEATURES = 3
_NAMESPACE = uuid.UUID("6f1c3f0e-8a51-4d0c-9a43-1d3c0b7f5e21")
_PRIORITY = {"high": 0, "medium": 1, "low": 2}

ISSUE_TITLES = {
    "slow_page": "Slow page",
    "poor_lcp": "Poor LCP",
    "poor_cls": "Poor CLS",
    "poor_fid": "Poor FID",
    "error_spike": "Error spike",
}
ISSUE_RECOMMENDATIONS = {
    "slow_page": ["Profile the page's critical rendering path", "Cache or precompute its slowest data calls"],
    "poor_lcp": [
        "Preload the largest image or text block",
        "Serve images in modern formats at the right size",
    ],
    "poor_cls": [
        "Reserve space for images, ads and embeds",
        "Avoid inserting content above existing content",
    ],
    "poor_fid": ["Break up long JavaScript tasks", "Defer or remove non-critical third-party scripts"],
    "error_spike": [
        "Check the error events of the period for a common cause",
        "Review the latest deployment",
    ],
}


@dataclass(frozen=True)
class InsightInputs:
    trends: dict[str, dict[str, Any]]
    issues: list[dict[str, Any]]
    bounce_rate: float
    page_view_sessions: int
    feature_adoption_rate: float
    tenant_features: int


def _insight(
    scope: Scope, period_start: str, now: datetime, rule: str, subject: str, **fields: Any
) -> dict[str, Any]:
    key = f"{scope.tenant_id}:{scope.user_id}:{rule}:{subject}:{period_start}"
    return {"id": f"insight_{uuid.uuid5(_NAMESPACE, key).hex[:16]}", **fields, "created_at": now}


def insights(scope: Scope, period_start: str, now: datetime, inputs: InsightInputs) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def add(rule: str, subject: str, **fields: Any) -> None:
        found.append(_insight(scope, period_start, now, rule, subject, **fields))

    load = inputs.trends.get("average_load_time")
    if load and load["previous_value"] and load["current_value"] and load["change_percentage"] is not None:
        change = load["change_percentage"]
        if change <= -LOAD_TIME_CHANGE_PCT:
            add(
                "load_time_improved",
                "",
                type="performance",
                priority="medium",
                impact="positive",
                title="Page load time improved",
                description=f"Average page load time decreased by {abs(change):.1f}% on the previous period",
                metric="page_load_time",
                change_percentage=change,
                trend="down",
                recommendations=[
                    "Keep the slowest pages under watch",
                    "Set a performance budget to keep the gain",
                ],
            )
        elif change >= LOAD_TIME_CHANGE_PCT:
            add(
                "load_time_degraded",
                "",
                type="performance",
                priority="high",
                impact="negative",
                title="Page load time degraded",
                description=f"Average page load time increased by {change:.1f}% on the previous period",
                metric="page_load_time",
                change_percentage=change,
                trend="up",
                recommendations=[
                    "Profile the slowest pages listed in the performance overview",
                    "Compress and lazy-load images below the fold",
                    "Defer non-critical JavaScript",
                ],
            )
    for issue in inputs.issues:
        if issue["severity"] != "error":
            continue
        where = f" on {issue['page']}" if issue["page"] else ""
        add(
            issue["type"],
            issue["page"] or "",
            type="errors" if issue["type"] == "error_spike" else "performance",
            priority="high",
            impact="negative",
            title=f"{ISSUE_TITLES[issue['type']]}{where}",
            description=issue["description"],
            metric=issue["metric"],
            change_percentage=None,
            trend="up" if issue["type"] == "error_spike" else "stable",
            recommendations=ISSUE_RECOMMENDATIONS[issue["type"]],
        )
    sessions = inputs.trends.get("sessions")
    if sessions and sessions["change_percentage"] is not None:
        change = sessions["change_percentage"]
        if abs(change) >= SESSIONS_CHANGE_PCT:
            rising = change > 0
            add(
                "sessions_up" if rising else "sessions_down",
                "",
                type="engagement",
                priority="medium",
                impact="positive" if rising else "negative",
                title="Engagement is up" if rising else "Engagement is down",
                description=f"Sessions {'rose' if rising else 'fell'} by {abs(change):.1f}%",
                metric="sessions",
                change_percentage=change,
                trend="up" if rising else "down",
                recommendations=["See which features the new sessions use"]
                if rising
                else [
                    "Check for broken flows or a drop in traffic sources",
                    "Re-engage users with a reminder",
                ],
            )
    if inputs.page_view_sessions >= BOUNCE_MIN_SESSIONS and inputs.bounce_rate >= HIGH_BOUNCE_RATE:
        add(
            "high_bounce_rate",
            "",
            type="engagement",
            priority="medium",
            impact="negative",
            title="High bounce rate",
            description=f"{inputs.bounce_rate:.0%} of sessions viewed a single page",
            metric="bounce_rate",
            change_percentage=None,
            trend="stable",
            recommendations=["Link landing pages to the next step", "Check that landing pages load fast"],
        )
    if inputs.tenant_features >= ADOPTION_MIN_FEATURES and inputs.feature_adoption_rate < LOW_ADOPTION_RATE:
        add(
            "low_feature_adoption",
            "",
            type="usage",
            priority="low",
            impact="neutral",
            title="Few features in use",
            description=f"{inputs.feature_adoption_rate:.0%} of the workspace's features in use were used",
            metric="feature_adoption_rate",
            change_percentage=None,
            trend="stable",
            recommendations=["Surface related features in context", "Offer a short guided tour"],
        )
    return sorted(found, key=lambda i: (_PRIORITY[i["priority"]], i["type"], i["title"]))
