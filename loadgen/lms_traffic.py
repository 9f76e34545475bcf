"""The learning platform of a load run: :func:`loadgen.lms_platform.generate_platform` for one tenant
(the credential's: the gateway takes the tenant from it), its term ending at the start of today in the
platform's zone, so every time is in the past and within retention of a run of a few weeks' history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from loadgen.lms_platform import TenantPlatform, generate_platform
from loadgen.options import LoadOptions
from loadgen.traffic import Item
from schemas.topics import LMS_STREAMS

TENANT_LABEL = "loadgen"
"""The generated tenant's id: a label only, the posted items carry no tenant."""


def platform_for(options: LoadOptions) -> TenantPlatform:
    """The platform ``options`` describe (same options and day, same platform)."""
    days = options.lms_term_days()
    now = options.now or datetime.now(UTC)
    (platform,) = generate_platform(
        options.seed,
        tenants=((TENANT_LABEL, options.lms_zone),),
        students=options.lms_students,
        courses=options.lms_courses,
        teachers=max(1, (options.lms_courses + 1) // 2),
        institutes=2 if options.lms_courses >= 2 else 1,
        term_start=now.astimezone(ZoneInfo(options.lms_zone)).date() - timedelta(days=days),
        term_days=days,
        activity_scale=options.lms_scale,
    )
    return platform


def lms_items(options: LoadOptions) -> Iterator[Item]:
    """The selected LMS streams' items in delivery order; nothing when none is selected."""
    selected = options.streams & frozenset(LMS_STREAMS)
    if not selected:
        return iter(())
    return (Item(item.stream, item.body) for item in platform_for(options).items if item.stream in selected)
