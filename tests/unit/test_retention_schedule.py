"""Scheduled retention shortenings (ADR 0012), without a database: the retention in force and the pending
changes against an oracle written from the rule itself — at any moment the job applies, tier by tier, the
longest setting that was in force at some time during the last grace period."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from plumbing.settings import RetentionScheduleSettings
from schemas.retention_schedule import (
    RetentionShortening,
    pending_retention_changes,
    retention_in_force,
    shortening,
)
from schemas.tenant_config import Retention

T0 = datetime(2027, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
TIERS = ("raw_days", "daily_rollup_days", "weekly_monthly_rollup_days")


def days(raw: int, daily: int | None = None, coarse: int | None = None) -> Retention:
    daily = daily or max(raw, 760)
    return Retention(
        raw_days=raw, daily_rollup_days=daily, weekly_monthly_rollup_days=coarse or max(daily, 1826)
    )


Timeline = list[tuple[datetime, Retention]]
"""The setting from each moment on (the first is the one in force before any change)."""


def oracle_in_force(timeline: Timeline, at: datetime, grace: timedelta) -> Retention:
    """Per tier the longest setting in force at some instant of ``(at - grace, at]``: a setting holds from
    its own moment until the next one's."""
    protecting = []
    for i, (start, value) in enumerate(timeline):
        end = timeline[i + 1][0] if i + 1 < len(timeline) else None
        if start <= at and (end is None or end > at - grace):
            protecting.append(value)
    return Retention(**{tier: max(getattr(v, tier) for v in protecting) for tier in TIERS})


def records(timeline: Timeline, grace: timedelta) -> list[RetentionShortening]:
    """What the config API records along ``timeline``."""
    out = []
    for (_, before), (at, after) in zip(timeline, timeline[1:], strict=False):
        if (record := shortening(before, after, at, grace)) is not None:
            out.append(record)
    return out


def test_a_longer_or_equal_retention_records_nothing_and_a_shorter_tier_records_the_replaced_one() -> None:
    grace = timedelta(days=7)
    assert shortening(days(395), days(1000), T0, grace) is None
    assert shortening(days(395), days(395), T0, grace) is None
    record = shortening(days(395, 760, 1826), days(395, 760, 1000), T0, grace)
    assert record is not None
    assert (record.effective_at, record.replaced, record.requested) == (
        T0 + grace,
        days(395, 760, 1826),
        days(395, 760, 1000),
    )


def test_several_changes_within_a_grace_period_each_protect_for_a_whole_period() -> None:
    grace = timedelta(days=7)
    timeline = [(T0, days(1000)), (T0 + timedelta(days=3), days(90)), (T0 + timedelta(days=4), days(300))]
    timeline.append((T0 + timedelta(days=5), days(90)))
    stored, made = timeline[-1][1], records(timeline, grace)
    assert [r.effective_at for r in made] == [T0 + timedelta(days=10), T0 + timedelta(days=12)]
    now = T0 + timedelta(days=5)
    assert retention_in_force(stored, made, now) == days(1000)
    assert retention_in_force(stored, made, T0 + timedelta(days=10)) == days(300)
    assert retention_in_force(stored, made, T0 + timedelta(days=12)) == days(90)
    assert [
        (c.effective_at, c.old.raw_days, c.new.raw_days) for c in pending_retention_changes(stored, made, now)
    ] == [
        (T0 + timedelta(days=10), 1000, 300),
        (T0 + timedelta(days=12), 300, 90),
    ]
    back = [*timeline, (T0 + timedelta(days=6), days(1000))]  # back to 1000 before either took effect
    assert pending_retention_changes(back[-1][1], records(back, grace), T0 + timedelta(days=6)) == []


@pytest.mark.parametrize("seed", range(40))
def test_the_retention_in_force_and_its_pending_steps_match_the_oracle(seed: int) -> None:
    rng = random.Random(seed)
    grace = timedelta(days=rng.choice([0, 1, 7]))

    def any_retention() -> Retention:
        raw = rng.choice([30, 90, 395, 1000])
        daily = rng.choice([d for d in (90, 400, 760, 1000) if d >= raw])
        return Retention(
            raw_days=raw, daily_rollup_days=daily, weekly_monthly_rollup_days=rng.choice([1000, 1826, 2000])
        )

    timeline: Timeline = [(T0, any_retention())]
    for _ in range(rng.randint(1, 6)):
        timeline.append((timeline[-1][0] + HOUR * rng.randint(1, 72), any_retention()))
    made, stored = records(timeline, grace), timeline[-1][1]
    last_change = timeline[-1][0]
    horizon = last_change + grace + HOUR
    at = last_change
    steps = []
    while at <= horizon:
        assert retention_in_force(stored, made, at) == oracle_in_force(timeline, at, grace), at
        if at > last_change and (old := oracle_in_force(timeline, at - HOUR, grace)) != (
            new := oracle_in_force(timeline, at, grace)
        ):
            steps.append((at, old, new))
        at += HOUR
    got = [(c.effective_at, c.old, c.new) for c in pending_retention_changes(stored, made, last_change)]
    assert got == steps
    assert all(getattr(new, t) <= getattr(old, t) for _, old, new in steps for t in TIERS)


def test_the_grace_period_is_seven_days_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANALYTICS_RETENTION_GRACE_DAYS", raising=False)
    assert RetentionScheduleSettings(_env_file=None).retention_grace == timedelta(days=7)
    monkeypatch.setenv("ANALYTICS_RETENTION_GRACE_DAYS", "30")
    assert RetentionScheduleSettings(_env_file=None).retention_grace == timedelta(days=30)
    monkeypatch.setenv("ANALYTICS_RETENTION_GRACE_DAYS", "-1")
    with pytest.raises(ValidationError):
        RetentionScheduleSettings(_env_file=None)
