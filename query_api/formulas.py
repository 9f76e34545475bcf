"""Every formula the seed leaves open, as pure functions. ``docs/metrics.md`` states each with its source;
the readers compute inputs from rollups and call only these."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

TrendDirection = Literal["up", "down", "stable"]

TREND_DEAD_BAND_PCT = 5.0
"""Changes within ±5 % of the previous value are ``stable``."""


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or ``None`` when the denominator is zero."""
    return None if denominator == 0 else numerator / denominator


def change_percentage(current: float, previous: float) -> float | None:
    """Relative change in percent against the preceding period; ``None`` when that period is zero."""
    value = ratio(current - previous, previous)
    return None if value is None else round(value * 100, 2)


def trend_of(current: float, previous: float) -> TrendDirection:
    """``up``/``down`` beyond the dead band, else ``stable``; from zero, any rise is ``up``."""
    if previous == 0:
        return "up" if current > 0 else "stable"
    change = (current - previous) / abs(previous) * 100
    if change > TREND_DEAD_BAND_PCT:
        return "up"
    if change < -TREND_DEAD_BAND_PCT:
        return "down"
    return "stable"


# ---- performance score (Lighthouse 10 scoring) ----------------------------------------------------------


@dataclass(frozen=True)
class ScoreCurve:
    """A Lighthouse log-normal curve: the value scoring 0.9 (``p10``) and the one scoring 0.5 (``median``)."""

    p10: float
    median: float
    weight: float


# Lighthouse 10 mobile curves and weights (Speed Index has no field equivalent; its weight is spread by
# renormalising the other four).
SCORE_CURVES: dict[str, ScoreCurve] = {
    "first_contentful_paint": ScoreCurve(1800, 3000, 0.10),
    "largest_contentful_paint": ScoreCurve(2500, 4000, 0.25),
    "total_blocking_time": ScoreCurve(200, 600, 0.30),
    "cumulative_layout_shift": ScoreCurve(0.1, 0.25, 0.25),
}
_INVERSE_ERFC_ONE_FIFTH = 0.9061938024368232


def log_normal_score(value: float, curve: ScoreCurve) -> float:
    """Lighthouse's ``getLogNormalScore``: 1 at zero, 0.9 at ``p10``, 0.5 at the median, towards 0 beyond."""
    if value <= 0:
        return 1.0
    standardized = (
        math.log(value / curve.median) * _INVERSE_ERFC_ONE_FIFTH / -math.log(curve.p10 / curve.median)
    )
    score = (1 - math.erf(standardized)) / 2
    if value <= curve.p10:
        return max(0.9, min(1.0, score))
    if value <= curve.median:
        return max(0.5, min(0.8999999999999999, score))
    return max(0.0, min(0.49999999999999994, score))


def performance_score(p75: dict[str, float]) -> int | None:
    """0–100 from the p75 of FCP, LCP, TBT and CLS; ``None`` without samples."""
    if not all(name in p75 for name in SCORE_CURVES):
        return None
    total_weight = sum(curve.weight for curve in SCORE_CURVES.values())
    weighted = sum(log_normal_score(p75[name], c) * c.weight for name, c in SCORE_CURVES.items())
    return round(weighted / total_weight * 100)


# ---- core web vitals ratings (web.dev thresholds, rated at p75) -----------------------------------------

VITAL_THRESHOLDS: dict[str, tuple[float, float]] = {
    "largest_contentful_paint": (2500, 4000),
    "first_input_delay": (100, 300),
    "cumulative_layout_shift": (0.1, 0.25),
    "first_contentful_paint": (1800, 3000),
    "time_to_first_byte": (800, 1800),
}
"""(good up to, poor above) per metric."""


def vital_rating(metric: str, value: float | None) -> str | None:
    if value is None:
        return None
    good, poor = VITAL_THRESHOLDS[metric]
    if value <= good:
        return "good"
    if value <= poor:
        return "needs-improvement"
    return "poor"


# ---- usage ---------------------------------------------------------------------------------------------

NEW_USER_DAYS = 14
POWER_USER_ACTIVE_SHARE = 0.5
REGULAR_USER_ACTIVE_SHARE = 0.2


def user_segment(active_days: int, period_days: int, days_since_first_seen: int | None) -> str | None:
    """``new_user`` (first seen within 14 days of the period's end), else by the share of active days:
    ``power_user`` ≥ 50 %, ``regular_user`` ≥ 20 %, ``casual_user`` below; ``None`` when inactive."""
    if active_days == 0:
        return None
    if days_since_first_seen is not None and days_since_first_seen < NEW_USER_DAYS:
        return "new_user"
    share = active_days / period_days
    if share >= POWER_USER_ACTIVE_SHARE:
        return "power_user"
    if share >= REGULAR_USER_ACTIVE_SHARE:
        return "regular_user"
    return "casual_user"


def share_pct(part: float, whole: float) -> float:
    """``part`` as a percentage of ``whole`` (0 when ``whole`` is 0), two decimals."""
    return 0.0 if whole == 0 else round(part / whole * 100, 2)
