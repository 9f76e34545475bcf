"""A seeded, realistic learning platform for tests, the load generator and the demo: pure, no I/O.

:func:`generate_platform` gives, per tenant, every body its LMS would post to the three LMS streams
(:data:`schemas.lms_payloads.LMS_ROUTES`) over one term, **in delivery order**: entity documents
(institutes, courses with videos and assessments, teachers, admins, students, enrollments and their
progress), learning activity (sessions, content views, progress, video watch sessions, attempt snapshots,
gradings, completions) with a weekly rhythm, and telemetry of 2–3 sources. Delivery is as messy as a
real feed's: ~2 % of activity arrives days late (mobile sessions synced later), some entity versions
arrive out of order, some activity arrives before its user, course or enrollment document, and a few
items with a client ``id`` are sent twice. See :mod:`loadgen.lms_catalog`, :mod:`loadgen.lms_activity`
and :mod:`loadgen.lms_telemetry` for what each part does.

Totals (``students``, ``courses``, ``teachers``) are split over the tenants 3:2:1-like (the first the
largest); ``institutes`` is per tenant. Every tenant's term runs from local midnight of ``term_start`` in
its zone for ``term_days`` days, and every time in a body lies before the end of the term (an entity
sync a week before the term starts; ``signed_up_at`` and ``published_at`` may be older).

The default term, 2025-12-01 to 2026-03-15 (15 weeks), crosses month and year boundaries and contains a
DST change of the first default tenant (America/Chicago, 2026-03-08): no time zone changes its offset
between early November and the end of January, so a shorter year-crossing term could not. Its first sync
(2025-11-24) is within the default raw retention (395 days) of the ADR's date, 2026-12-06; a test posting
it through a gateway at a later date sets the tenants' ``raw_days`` longer or its data is refused.

Same arguments, same output: every draw comes from a generator seeded by ``seed`` and the tenant.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from loadgen.lms_activity import TermActivity
from loadgen.lms_catalog import build_catalog, emit_catalog
from loadgen.lms_feed import Feed, LmsItem
from loadgen.lms_telemetry import emit_telemetry

__all__ = ["DEFAULT_TENANTS", "LmsItem", "TenantPlatform", "generate_platform", "split_total"]

DEFAULT_TENANTS: tuple[tuple[str, str], ...] = (
    ("lms-chicago", "America/Chicago"),
    ("lms-online", "UTC"),
    ("lms-pune", "Asia/Kolkata"),
)
"""(tenant id, IANA zone): a zone with a DST change in the default term, UTC, and a half-hour offset."""
DEFAULT_TERM_START = date(2025, 12, 1)
DEFAULT_TERM_DAYS = 105


@dataclass(frozen=True, slots=True)
class TenantPlatform:
    tenant_id: str
    time_zone: str
    """IANA zone: where the platform's users live (their daily rhythm); the bodies' times carry its offset."""
    items: list[LmsItem]
    """In delivery order: late events, out-of-order entity versions and events before their entities are
    placed as a real feed would deliver them."""


def split_total(total: int, parts: int) -> list[int]:
    """``total`` over ``parts`` tenants by weights ``parts, parts - 1, …, 1`` (largest remainders), each
    at least 1; raises ``ValueError`` when ``total < parts``."""
    if total < parts:
        raise ValueError(f"{total} cannot be split over {parts} tenants (at least one each)")
    weights = list(range(parts, 0, -1))
    spare = total - parts
    exact = [spare * weight / sum(weights) for weight in weights]
    shares = [int(value) for value in exact]
    by_remainder = sorted(range(parts), key=lambda index: (shares[index] - exact[index], index))
    for index in by_remainder[: spare - sum(shares)]:
        shares[index] += 1
    return [share + 1 for share in shares]


def _local_midnight(day: date, zone: ZoneInfo) -> float:
    return datetime.combine(day, time(0), tzinfo=zone).timestamp()


def generate_platform(
    seed: int = 7,
    *,
    tenants: Sequence[tuple[str, str]] = DEFAULT_TENANTS,
    students: int = 500,
    courses: int = 20,
    teachers: int = 12,
    institutes: int = 2,
    term_start: date = DEFAULT_TERM_START,
    term_days: int = DEFAULT_TERM_DAYS,
    activity_scale: float = 1.0,
) -> list[TenantPlatform]:
    """One :class:`TenantPlatform` per tenant, in the order of ``tenants``."""
    if not tenants or institutes < 1 or term_days < 7 or activity_scale < 0:
        raise ValueError("need a tenant, an institute, a term of at least 7 days and activity_scale >= 0")
    if len({tenant_id for tenant_id, _ in tenants}) != len(tenants):
        raise ValueError("tenant ids must be distinct")
    student_split = split_total(students, len(tenants))
    course_split = split_total(courses, len(tenants))
    teacher_split = split_total(teachers, len(tenants))
    platforms = []
    for index, (tenant_id, zone_name) in enumerate(tenants):
        rng = random.Random(f"lms-platform:{seed}:{index}:{tenant_id}")
        zone = ZoneInfo(zone_name)
        feed = Feed(zone, rng)
        catalog = build_catalog(
            rng,
            tenant_id,
            term_start=_local_midnight(term_start, zone),
            term_end=_local_midnight(term_start + timedelta(days=term_days), zone),
            institutes=institutes,
            courses=course_split[index],
            teachers=teacher_split[index],
            students=student_split[index],
            with_draft=index == 0,
        )
        emit_catalog(feed, catalog, rng)
        TermActivity.for_term(feed, catalog, rng, term_start, term_days, activity_scale).run()
        emit_telemetry(feed, catalog, rng)
        platforms.append(TenantPlatform(tenant_id, zone_name, feed.items()))
    return platforms
