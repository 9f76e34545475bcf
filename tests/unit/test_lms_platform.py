"""The generated learning platform (``loadgen.lms_platform``): seeded, valid for the gateway, shaped as the
LMS acceptance asks, and delivered as messily as a real feed.

Every check reads the bodies only (what a client posts), not the generator's internals.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from loadgen.lms_platform import LmsItem, TenantPlatform, generate_platform
from schemas.lms_payloads import LMS_PAYLOADS
from schemas.topics import Stream
from tests.support.examples import LMS_EVENT_TYPES

ADR_DATE = datetime(2026, 12, 6, tzinfo=UTC)
RAW_RETENTION_DAYS = 395
"""The default ``raw_days`` (docs/retention.md)."""
TERM_START, TERM_DAYS = date(2025, 12, 1), 105
"""The documented default term."""
TIME_FIELDS = (
    "timestamp",
    "signed_up_at",
    "published_at",
    "enrolled_at",
    "completed_at",
    "dropped_at",
    "started_at",
    "submitted_at",
    "start_time",
    "end_time",
)


def small(seed: int, **options: Any) -> list[TenantPlatform]:
    return generate_platform(seed, students=60, courses=6, teachers=4, term_days=21, **options)


@pytest.fixture(scope="module")
def platforms() -> list[TenantPlatform]:
    return generate_platform()


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def of(platform: TenantPlatform, stream: Stream) -> list[dict[str, Any]]:
    return [item.body for item in platform.items if item.stream is stream]


def entity_key(body: dict[str, Any]) -> tuple[Any, ...]:
    kind = body["type"]
    if kind == "enrollment":
        return kind, body["student_id"], body["course_id"]
    if kind == "user":
        return kind, body["user_type"], body["user_id"]
    return kind, body[f"{kind}_id"]


def test_the_same_seed_gives_the_same_platform_and_another_seed_another() -> None:
    first = small(3)
    assert first == small(3)
    assert first != small(4)


def test_the_default_is_lean_and_every_body_validates_as_the_gateway_sees_it(
    platforms: list[TenantPlatform],
) -> None:
    total = sum(len(platform.items) for platform in platforms)
    assert 60_000 <= total <= 120_000
    expected = LMS_EVENT_TYPES
    for platform in platforms:
        types: dict[Stream, set[str]] = defaultdict(set)
        for item in platform.items:
            # as the gateway sees it: JSON on the wire, parsed, then validated by the stream's union
            LMS_PAYLOADS[item.stream].model_validate(orjson.loads(orjson.dumps(item.body)))
            types[item.stream].add(item.body["type"])
        assert types == expected, platform.tenant_id


def test_the_platform_has_the_acceptance_shape(platforms: list[TenantPlatform]) -> None:
    assert len(platforms) >= 3
    assert len({platform.time_zone for platform in platforms}) == len(platforms)
    students = teachers = courses = 0
    dst_changes = 0
    for platform in platforms:
        zone = ZoneInfo(platform.time_zone)
        entities = of(platform, Stream.LMS_ENTITIES)
        assert len({b["institute_id"] for b in entities if b["type"] == "institute"}) >= 2
        users = {(b["user_type"], b["user_id"]) for b in entities if b["type"] == "user"}
        students += sum(1 for kind, _ in users if kind == "student")
        tenant_teachers = {number for kind, number in users if kind == "teacher"}
        teachers += len(tenant_teachers)
        course_documents = [b for b in entities if b["type"] == "course"]
        courses += len({b["course_id"] for b in course_documents})
        assert all(set(b["teacher_ids"]) <= tenant_teachers for b in course_documents)
        assert any(b["videos"] and b["assessments"] for b in course_documents)
        local_days = sorted(
            when(b["timestamp"]).astimezone(zone).date() for b in of(platform, Stream.LMS_ACTIVITY)
        )
        first, last = local_days[0], local_days[-1]
        assert (first.year, first.month) == (2025, 12) and (last.year, last.month) == (
            2026,
            3,
        )  # month and year
        start = datetime.combine(first, datetime.min.time(), zone)
        end = datetime.combine(last, datetime.max.time(), zone)
        dst_changes += start.utcoffset() != end.utcoffset()
    assert (students, courses, teachers) == (500, 20, 12)
    assert dst_changes >= 1  # a tenant whose zone changes its offset inside the term


def test_times_lie_before_the_end_of_the_term_and_within_retention(platforms: list[TenantPlatform]) -> None:
    oldest_stored = ADR_DATE - timedelta(days=RAW_RETENTION_DAYS)
    for platform in platforms:
        zone = ZoneInfo(platform.time_zone)
        term_end = datetime.combine(TERM_START + timedelta(days=TERM_DAYS), datetime.min.time(), zone)
        stamps = [when(item.body["timestamp"]) for item in platform.items]
        assert oldest_stored < min(stamps) and max(stamps) < term_end < ADR_DATE
        for item in platform.items:
            for name in TIME_FIELDS:
                if name in item.body:
                    assert when(item.body[name]) < term_end, (name, item.body)


def delivered_late(items: list[LmsItem]) -> int:
    """Activity items more than a day older than the newest activity delivered before them."""
    newest: datetime | None = None
    late = 0
    for body in (item.body for item in items if item.stream is Stream.LMS_ACTIVITY):
        stamp = when(body["timestamp"])
        if newest is not None and newest - stamp > timedelta(days=1):
            late += 1
        newest = stamp if newest is None else max(newest, stamp)
    return late


def test_the_feed_is_delivered_as_messily_as_a_real_one(platforms: list[TenantPlatform]) -> None:
    for platform in platforms:
        activity = of(platform, Stream.LMS_ACTIVITY)
        assert 0.01 * len(activity) < delivered_late(platform.items) < 0.04 * len(activity)
        newest: dict[tuple[Any, ...], int] = {}
        contents: dict[tuple[Any, ...], dict[str, Any]] = {}
        out_of_order: Counter[str] = Counter()
        before: Counter[str] = Counter()
        seen_ids: dict[str, dict[str, Any]] = {}
        resent = 0
        for item in platform.items:
            body = item.body
            if item.stream is Stream.LMS_ENTITIES:
                key = entity_key(body)
                if body["version"] < newest.get(key, -1):
                    out_of_order[body["type"]] += 1
                newest[key] = max(newest.get(key, -1), body["version"])
                assert (
                    contents.setdefault((*key, body["version"]), body) == body
                )  # equal versions, equal content
            elif item.stream is Stream.LMS_ACTIVITY:
                if ("user", body["user_type"], body["user_id"]) not in newest:
                    before["user"] += 1
                if "course_id" in body and ("course", body["course_id"]) not in newest:
                    before["course"] += 1
                if body["user_type"] == "student" and body["type"] != "other" and "course_id" in body:
                    before["enrollment"] += ("enrollment", body["user_id"], body["course_id"]) not in newest
                if "id" in body:
                    if body["id"] in seen_ids:
                        assert seen_ids[body["id"]] == body  # a retry is the same body
                        resent += 1
                    seen_ids[body["id"]] = body
        assert out_of_order["enrollment"] > 0 and out_of_order["course"] > 0, platform.tenant_id
        assert min(before[kind] for kind in ("user", "course", "enrollment")) > 0, before
        assert 0 < resent < 0.01 * len(activity)


def test_students_learn_in_a_weekly_rhythm_that_declines_over_the_term(
    platforms: list[TenantPlatform],
) -> None:
    by_weekday: Counter[int] = Counter()
    by_hour: Counter[int] = Counter()
    by_week: Counter[int] = Counter()
    for platform in platforms:
        zone = ZoneInfo(platform.time_zone)
        for body in of(platform, Stream.LMS_ACTIVITY):
            if body["user_type"] == "student":
                local = when(body["timestamp"]).astimezone(zone)
                by_weekday[local.weekday()] += 1
                by_hour[local.hour] += 1
                by_week[(local.date() - TERM_START).days // 7] += 1
    # 15 weeks: every weekday occurs 15 times, so counts compare as they are
    weekdays = sum(by_weekday[day] for day in range(4)) / 4
    weekend = (by_weekday[5] + by_weekday[6]) / 2
    assert weekdays > 1.4 * weekend
    assert sum(by_hour[hour] for hour in (19, 20, 21)) > 1.5 * sum(by_hour[hour] for hour in (8, 9, 10))
    early, late = (sum(by_week[week] for week in weeks) for weeks in ((0, 1, 2), (10, 11, 12)))
    assert early > 1.15 * late  # the term's decline (weeks 10-12: past the holidays, before the final bump)
    assert by_week[3] < 0.6 * by_week[1]  # the holidays (2025-12-22 … 28)


def test_attempts_are_snapshots_and_enrollments_end_in_every_way(platforms: list[TenantPlatform]) -> None:
    for platform in platforms:
        teachers_of: dict[int, set[int]] = {}
        final: dict[tuple[Any, ...], dict[str, Any]] = {}
        for body in of(platform, Stream.LMS_ENTITIES):
            if body["type"] == "course":
                teachers_of.setdefault(body["course_id"], set()).update(body["teacher_ids"])
            if body["type"] == "enrollment":
                key = entity_key(body)
                if key not in final or final[key]["version"] < body["version"]:
                    final[key] = body
        attempts: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for body in of(platform, Stream.LMS_ACTIVITY):
            if body["type"].startswith("assessment_"):
                attempts[body["attempt_id"]].append(body)
        stages: Counter[str] = Counter()
        for snapshots in attempts.values():
            snapshots.sort(key=lambda b: when(b["timestamp"]))
            assert snapshots[0]["type"] == "assessment_started"
            assert len({(b["user_id"], b["assessment_id"], b["started_at"]) for b in snapshots}) == 1
            graded = [b for b in snapshots if b["type"] == "assessment_graded"]
            stages[f"graded {len(graded)}" if graded else snapshots[-1]["type"]] += 1
            for body in graded:
                assert body["score"] <= body["max_score"]
                if "graded_by" in body:
                    assert body["graded_by"] in teachers_of[body["course_id"]]
        assert stages["assessment_started"] > 0  # abandoned
        assert stages["assessment_submitted"] > 0  # not graded yet
        assert stages["graded 1"] > 0 and stages["graded 2"] > 0  # graded; regraded
        statuses = Counter(body["status"] for body in final.values())
        assert min(statuses[status] for status in ("active", "completed", "dropped")) > 0, statuses
        for body in final.values():
            assert ("completed_at" in body) == (body["status"] == "completed")
            assert ("dropped_at" in body) == (body["status"] == "dropped")
            assert body["status"] != "completed" or body["progress_percentage"] == 100


def test_activity_scale_scales_the_activity_only() -> None:
    def counts(scale: float) -> Counter[Stream]:
        (platform,) = small(5, tenants=(("t", "UTC"),), activity_scale=scale)
        return Counter(item.stream for item in platform.items if item.body["type"] != "enrollment")

    full, half = counts(1.0), counts(0.5)
    assert 0.35 < half[Stream.LMS_ACTIVITY] / full[Stream.LMS_ACTIVITY] < 0.65
    assert half[Stream.LMS_ENTITIES] == full[Stream.LMS_ENTITIES]  # the catalog (enrollments left out)
    assert half[Stream.LMS_TELEMETRY] == full[Stream.LMS_TELEMETRY]
