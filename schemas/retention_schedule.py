"""Scheduled retention shortenings (ADR 0012): a shorter retention never deletes at once.

When ``PUT /analytics/config`` shortens any of a tenant's retention settings, the replaced setting is
recorded with an ``effective_at`` one grace period later (``ANALYTICS_RETENTION_GRACE_DAYS``, default 7) in
``retention_shortenings`` (migration 0018). Until then it keeps protecting the tenant's data. The retention
*in force* at a moment — what the retention job applies — is, tier by tier, the longest of the stored
setting and every replaced setting whose grace period has not passed: a setting in force at any time during
the last grace period protects the data for that whole period, however often the setting changed since.

So changing the setting back (or to anything longer) before ``effective_at`` cancels the deletion, and
shortening it again starts a grace period of its own. The config answer lists what is scheduled
(:func:`pending_retention_changes`); :mod:`jobs.retention` applies :func:`retention_in_force`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from schemas.tenant_config import Retention


class RetentionShortening(BaseModel):
    """A change that shortened some tier of a tenant's retention: ``replaced`` protects the tenant's data
    until ``effective_at`` (exclusive); ``requested`` is what the change asked for (a record only)."""

    model_config = ConfigDict(frozen=True)

    changed_at: datetime
    effective_at: datetime
    replaced: Retention
    requested: Retention


class RetentionChange(BaseModel):
    """A step of the retention in force still to come: from ``effective_at`` on, ``new`` replaces ``old``."""

    model_config = ConfigDict(frozen=True)

    effective_at: datetime
    old: Retention
    new: Retention


TIERS = tuple(Retention.model_fields)


def shortening(
    before: Retention, after: Retention, at: datetime, grace: timedelta
) -> RetentionShortening | None:
    """What a change from ``before`` to ``after`` at ``at`` must record: ``None`` unless some tier got
    shorter (a longer setting applies at once and protects more)."""
    if all(getattr(after, tier) >= getattr(before, tier) for tier in TIERS):
        return None
    return RetentionShortening(changed_at=at, effective_at=at + grace, replaced=before, requested=after)


def retention_in_force(
    requested: Retention, shortenings: Iterable[RetentionShortening], at: datetime
) -> Retention:
    """The retention the job applies at ``at``: per tier the longest of ``requested`` (the stored setting)
    and each replaced setting still within its grace period (``effective_at`` after ``at``). Valid by
    construction: the per-tier maxima of settings that never shrink from raw to coarse do not either."""
    protecting = [requested, *(s.replaced for s in shortenings if s.effective_at > at)]
    return Retention(**{tier: max(getattr(r, tier) for r in protecting) for tier in TIERS})


def pending_retention_changes(
    requested: Retention, shortenings: Iterable[RetentionShortening], now: datetime
) -> list[RetentionChange]:
    """Every future step of :func:`retention_in_force`, in time order: at each ``effective_at`` after
    ``now`` where the retention in force gets shorter. Empty when nothing is scheduled (none pending, or
    each pending one overtaken by a setting at least as long)."""
    pending = [s for s in shortenings if s.effective_at > now]
    changes: list[RetentionChange] = []
    old = retention_in_force(requested, pending, now)
    for moment in sorted({s.effective_at for s in pending}):
        new = retention_in_force(requested, pending, moment)
        if new != old:
            changes.append(RetentionChange(effective_at=moment, old=old, new=new))
        old = new
    return changes
