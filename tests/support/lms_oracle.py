"""An independent oracle for the learning platform's eight aggregation models: every field of every model
recomputed in plain Python from the facts as a client posted them (the request bodies), to compare with
what the readers of ``query_api.lms`` compute from the rollups and current-state tables.

Nothing here imports production code (no ``schemas``, ``query_api``, ``stream_processors``): the
definitions of ``docs/metrics.md`` (LMS section) are applied from scratch — entity versions (newest wins,
soft deletes), attempt snapshots (newest by time, a grading over a submission of the same millisecond),
event ids (a re-sent id counts once), local days in the tenant's zone with its DST changes, and rounding
(``Decimal`` half up at a precision no input here can exhaust), so a shared bug cannot hide.

Assumed of the facts (checked, not guessed): every item carries its ``timestamp`` and no ``sent_at`` (so the
stored event time is the item's own), and no time is more than a day ahead of the test's clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any
from zoneinfo import ZoneInfo

HANDED_IN = ("assessment_submitted", "assessment_graded")
STAGE = {"assessment_started": 0, "assessment_submitted": 1, "assessment_graded": 2}


# ---- arithmetic, independently of schemas.lms_measures ----------------------------------------------------


def _exact(numerator: int | Decimal, denominator: int | Decimal) -> Decimal:
    with localcontext() as context:
        context.prec = 80
        return Decimal(numerator) / Decimal(denominator)


def pct(part: int | Decimal, whole: int | Decimal) -> Decimal:
    """100 × part / whole, two decimals half up; 0.00 for an empty whole."""
    if whole == 0:
        return Decimal("0.00")
    return (_exact(part, whole) * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def whole_minutes(seconds: int | Decimal) -> int:
    return int(_exact(seconds, 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def mean_minutes(total_seconds: int, count: int) -> int:
    return 0 if count == 0 else whole_minutes(_exact(total_seconds, count))


def hundredths_of(text: Any) -> int:
    """A decimal field (JSON number or text) in hundredths, exactly."""
    value = Decimal(str(text)) * 100
    assert value == value.to_integral_value(), text
    return int(value)


def moment(text: str) -> datetime:
    """An ISO-8601 time as stored: UTC, to the millisecond."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, text
    parsed = parsed.astimezone(UTC)
    return parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)


def ms(instant: datetime) -> int:
    return (instant - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


# ---- the facts of one tenant ------------------------------------------------------------------------------


@dataclass
class Activity:
    body: dict[str, Any]
    when: datetime
    day: date

    @property
    def type(self) -> str:
        return str(self.body["type"])

    @property
    def person(self) -> str:
        return f"{self.body['user_type']}:{self.body['user_id']}"

    @property
    def course(self) -> int:
        return int(self.body.get("course_id") or 0)


ENTITY_KEYS = {
    "institute": ("institute_id",),
    "course": ("course_id",),
    "user": ("user_type", "user_id"),
    "enrollment": ("student_id", "course_id"),
}


def entity_key(body: dict[str, Any]) -> tuple[str, ...]:
    """(type, its id fields…): whose versions compete."""
    return (body["type"], *(str(body[name]) for name in ENTITY_KEYS[body["type"]]))


@dataclass
class Attempt:
    """An attempt as its newest snapshot says, keyed as stored (person, course, type, assessment, attempt,
    the local day it started)."""

    person: str
    course: int
    kind: str
    assessment: int
    started: date
    snapshot: Activity


@dataclass
class Facts:
    """One tenant's facts, deduplicated and reduced to what the models need."""

    tenant_id: str
    zone: ZoneInfo
    versions: dict[tuple[str, ...], list[tuple[int, datetime, dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    by_day: dict[date, list[Activity]] = field(default_factory=lambda: defaultdict(list))
    samples: list[tuple[datetime, date, dict[str, Any]]] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    current: dict[str, dict[tuple[str, ...], dict[str, Any]]] = field(default_factory=dict)
    """entity type → key → its newest version, soft-deleted ones left out"""

    def local_day(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    def events(self, first: date, last: date) -> Iterable[Activity]:
        day = first
        while day <= last:
            yield from self.by_day.get(day, ())
            day += timedelta(days=1)

    def settle(self) -> None:
        """Newest versions of entities and snapshots of attempts, once all facts are in."""
        for kind in ENTITY_KEYS:
            self.current[kind] = {}
        for key, versions in self.versions.items():
            _, _, body = max(versions, key=lambda v: v[0])
            if not body.get("is_deleted", False):
                self.current[key[0]][key] = body
        newest: dict[tuple[Any, ...], Activity] = {}
        for events in self.by_day.values():
            for a in events:
                if a.type not in STAGE:
                    continue
                b = a.body
                started = self.local_day(moment(b["started_at"]))
                slot = (
                    a.person,
                    a.course,
                    b["assessment_type"],
                    int(b["assessment_id"]),
                    int(b["attempt_id"]),
                    started,
                )
                held = newest.get(slot)
                if held is None or (ms(a.when), STAGE[a.type]) >= (ms(held.when), STAGE[held.type]):
                    newest[slot] = a
        self.attempts = [Attempt(k[0], k[1], k[2], k[3], k[5], a) for k, a in newest.items()]

    # -- entities --------------------------------------------------------------------------------------

    def courses(self) -> dict[int, dict[str, Any]]:
        return {int(key[1]): body for key, body in self.current["course"].items()}

    def by_end(self, body: dict[str, Any], name: str, last: date) -> bool:
        value = body.get(name)
        return value is not None and self.local_day(moment(value)) <= last

    def enrollments(self, last: date) -> dict[int, list[dict[str, Any]]]:
        """Per course, its enrollments made by the end of ``last`` (current state)."""
        out: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for body in self.current["enrollment"].values():
            if self.by_end(body, "enrolled_at", last):
                out[int(body["course_id"])].append(body)
        return out

    def progress_as_of(self, student: str, course: int, last: date) -> int:
        """Hundredths of a percent of the newest version recorded on or before ``last``; 0 without one."""
        recorded = [
            (version, body)
            for version, when, body in self.versions.get(("enrollment", student, str(course)), [])
            if self.local_day(when) <= last
        ]
        if not recorded:
            return 0
        return hundredths_of(max(recorded, key=lambda v: v[0])[1].get("progress_percentage", 0))


def facts_of(tenant_id: str, zone: str, items: Iterable[tuple[str, dict[str, Any]]]) -> Facts:
    """The facts of ``items`` — (stream name, request body) in delivery order — of one tenant."""
    facts = Facts(tenant_id, ZoneInfo(zone))
    seen: set[tuple[str, str]] = set()
    for stream, body in items:
        assert "sent_at" not in body and "timestamp" in body, "the oracle needs the event's own time"
        if "id" in body:
            if (stream, str(body["id"])) in seen:  # a re-sent event is stored once
                continue
            seen.add((stream, str(body["id"])))
        when = moment(body["timestamp"])
        if stream == "lms_entities":
            facts.versions[entity_key(body)].append((int(body["version"]), when, body))
        elif stream == "lms_activity":
            day = facts.local_day(when)
            facts.by_day[day].append(Activity(body, when, day))
        elif stream == "lms_telemetry":
            facts.samples.append((when, facts.local_day(when), body))
        else:
            raise AssertionError(f"unknown stream {stream}")
    facts.settle()
    return facts


# ---- the eight models, for many ids of one period at once ----------------------------------------------


@dataclass
class _Course:
    made: list[dict[str, Any]] = field(default_factory=list)
    learners: set[str] = field(default_factory=set)
    """students enrolled and not dropped by the end"""
    active_days: set[tuple[str, date]] = field(default_factory=set)
    active_students: set[str] = field(default_factory=set)
    viewers: set[str] = field(default_factory=set)
    views: int = 0
    watch_seconds: int = 0
    completions: int = 0
    quiz_starts: int = 0
    assignment_submissions: int = 0


def _courses(facts: Facts, courses: Iterable[int], first: date, last: date) -> dict[int, _Course]:
    out = {course: _Course() for course in courses}
    made = facts.enrollments(last)
    for course, item in out.items():
        item.made = made.get(course, [])
        item.learners = {
            f"student:{b['student_id']}" for b in item.made if not facts.by_end(b, "dropped_at", last)
        }
    for a in facts.events(first, last):
        tally = out.get(a.course)
        if tally is None:
            continue
        b = a.body
        if b["user_type"] == "student":
            tally.active_students.add(a.person)
            if a.person in tally.learners:
                tally.active_days.add((a.person, a.day))
        if a.type in ("content_viewed", "video_watched"):
            tally.views += 1
            tally.viewers.add(a.person)
        if a.type == "video_watched":
            tally.watch_seconds += int(b["watch_duration"])
        elif a.type == "course_completed":
            tally.completions += 1
        elif a.type == "assessment_started" and b["assessment_type"] == "quiz":
            tally.quiz_starts += 1
        elif a.type == "assessment_submitted" and b["assessment_type"] == "assignment":
            tally.assignment_submissions += 1
    return out


def _engagement(item: _Course, first: date, last: date) -> Decimal:
    return pct(len(item.active_days), len(item.learners) * ((last - first).days + 1))


def _average_progress(facts: Facts, course: int, item: _Course, last: date) -> Decimal:
    if not item.learners:
        return Decimal("0.00")
    values = [facts.progress_as_of(s.split(":")[1], course, last) for s in item.learners]
    return (_exact(sum(values), len(values)) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def course_analytics(
    facts: Facts, courses: Iterable[int], first: date, last: date
) -> dict[int, dict[str, Any]]:
    items = _courses(facts, courses, first, last)
    handed_in = {
        (t.person, t.assessment) for t in facts.attempts if t.started <= last and t.snapshot.type in HANDED_IN
    }
    catalog = facts.courses()
    out = {}
    for course, item in items.items():
        listed = catalog.get(course, {}).get("assessments", [])

        def rate(kind: str, item: _Course = item, listed: list[dict[str, Any]] = listed) -> Decimal:
            ids = {int(x["assessment_id"]) for x in listed if x["assessment_type"] == kind}
            done = sum(1 for person, one in handed_in if person in item.learners and one in ids)
            return pct(done, len(item.learners) * len(ids))

        out[course] = {
            "course_id": course,
            "tenant_id": facts.tenant_id,
            "period_start": first,
            "period_end": last,
            "total_enrollments": len(item.made),
            "active_students": len(item.active_students),
            "completion_rate": pct(
                sum(1 for b in item.made if facts.by_end(b, "completed_at", last)), len(item.made)
            ),
            "average_progress": _average_progress(facts, course, item, last),
            "total_watch_time": whole_minutes(item.watch_seconds),
            "quiz_completion_rate": rate("quiz"),
            "assignment_submission_rate": rate("assignment"),
            "engagement_score": _engagement(item, first, last),
        }
    return out


def daily_course_metrics(facts: Facts, courses: Iterable[int], day: date) -> dict[int, dict[str, Any]]:
    return {
        course: {
            "course_id": course,
            "date": day,
            "total_views": item.views,
            "unique_viewers": len(item.viewers),
            "total_watch_time": whole_minutes(item.watch_seconds),
            "completion_count": item.completions,
            "quiz_attempts": item.quiz_starts,
            "assignment_submissions": item.assignment_submissions,
            "average_engagement": _engagement(item, day, day),
            "tenant_id": facts.tenant_id,
        }
        for course, item in _courses(facts, courses, day, day).items()
    }


def weekly_course_metrics(facts: Facts, courses: Iterable[int], monday: date) -> dict[int, dict[str, Any]]:
    sunday = monday + timedelta(days=6)

    def in_week(body: dict[str, Any], name: str) -> bool:
        value = body.get(name)
        return value is not None and monday <= facts.local_day(moment(value)) <= sunday

    return {
        course: {
            "course_id": course,
            "week_start_date": monday,
            "week_end_date": sunday,
            "total_enrollments": len(item.made),
            "new_enrollments": sum(1 for b in item.made if in_week(b, "enrolled_at")),
            "completed_enrollments": sum(1 for b in item.made if in_week(b, "completed_at")),
            "total_watch_time": whole_minutes(item.watch_seconds),
            "average_progress": _average_progress(facts, course, item, sunday),
            "engagement_score": _engagement(item, monday, sunday),
            "tenant_id": facts.tenant_id,
        }
        for course, item in _courses(facts, courses, monday, sunday).items()
    }


@dataclass
class _Person:
    logins: int = 0
    ended: int = 0
    session_seconds: int = 0
    courses: set[int] = field(default_factory=set)
    videos: set[int] = field(default_factory=set)
    quizzes_started: int = 0
    quizzes_done: set[int] = field(default_factory=set)
    assignments_done: set[int] = field(default_factory=set)
    completed: int = 0
    days: set[date] = field(default_factory=set)


def _people(
    facts: Facts, people: Iterable[tuple[str, int]], first: date, last: date
) -> dict[tuple[str, int], _Person]:
    out = {person: _Person() for person in people}
    keys = {f"{kind}:{ident}": (kind, ident) for kind, ident in out}
    for a in facts.events(first, last):
        wanted = keys.get(a.person)
        if wanted is None:
            continue
        p, b = out[wanted], a.body
        p.days.add(a.day)
        if a.course:
            p.courses.add(a.course)
        if a.type == "login":
            p.logins += 1
        elif a.type == "logout":
            p.ended += 1
            p.session_seconds += int(b["duration_seconds"])
        elif a.type == "video_watched":
            p.videos.add(int(b["video_id"]))
        elif a.type == "course_completed":
            p.completed += 1
        elif a.type == "assessment_started" and b["assessment_type"] == "quiz":
            p.quizzes_started += 1
        if a.type in HANDED_IN:
            done = p.quizzes_done if b["assessment_type"] == "quiz" else p.assignments_done
            done.add(int(b["assessment_id"]))
    return out


def user_analytics(
    facts: Facts, people: Iterable[tuple[str, int]], first: date, last: date
) -> dict[tuple[str, int], dict[str, Any]]:
    return {
        (kind, ident): {
            "user_id": ident,
            "user_type": kind,
            "tenant_id": facts.tenant_id,
            "period_start": first,
            "period_end": last,
            "login_count": p.logins,
            "session_duration_avg": mean_minutes(p.session_seconds, p.ended),
            "courses_accessed": len(p.courses),
            "videos_watched": len(p.videos),
            "quizzes_attempted": p.quizzes_started,
            "assignments_submitted": len(p.assignments_done),
            "engagement_score": pct(len(p.days), (last - first).days + 1),
        }
        for (kind, ident), p in _people(facts, people, first, last).items()
    }


def monthly_user_metrics(
    facts: Facts, people: Iterable[tuple[str, int]], year: int, month: int
) -> dict[tuple[str, int], dict[str, Any]]:
    first = date(year, month, 1)
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return {
        (kind, ident): {
            "user_id": ident,
            "user_type": kind,
            "month": month,
            "year": year,
            "total_login_time": whole_minutes(p.session_seconds),
            "courses_completed": p.completed,
            "videos_watched": len(p.videos),
            "quizzes_completed": len(p.quizzes_done),
            "assignments_submitted": len(p.assignments_done),
            "engagement_score": pct(len(p.days), (last - first).days + 1),
            "tenant_id": facts.tenant_id,
        }
        for (kind, ident), p in _people(facts, people, first, last).items()
    }


def system_metrics(facts: Facts, first: date, last: date) -> dict[str, Any]:
    events = list(facts.events(first, last))
    users = [b for b in facts.current["user"].values() if facts.by_end(b, "signed_up_at", last)]
    courses = [
        b
        for b in facts.courses().values()
        if b.get("is_published", False)
        and (b.get("published_at") is None or facts.by_end(b, "published_at", last))
    ]
    logouts = [int(a.body["duration_seconds"]) for a in events if a.type == "logout"]
    sampled = [body for _, day, body in facts.samples if first <= day <= last]
    traffic = [b for b in sampled if b["type"] == "traffic"]
    uptime = [b for b in sampled if b["type"] == "uptime"]
    observed = sum(int(b["interval_seconds"]) for b in uptime)
    storage: dict[str, tuple[datetime, int]] = {}
    for when, day, body in facts.samples:
        if body["type"] == "storage" and day <= last:
            held = storage.get(body["source"])
            if held is None or when > held[0]:
                storage[body["source"]] = (when, int(body["storage_used_bytes"]))
    return {
        "tenant_id": facts.tenant_id,
        "period_start": first,
        "period_end": last,
        "total_users": len(users),
        "active_users": len({a.person for a in events}),
        "total_courses": len(courses),
        "active_courses": len({a.course for a in events if a.course}),
        "total_sessions": sum(1 for a in events if a.type == "login"),
        "average_session_duration": mean_minutes(sum(logouts), len(logouts)),
        "total_video_views": sum(1 for a in events if a.type == "video_watched"),
        "total_storage_used": sum(value for _, value in storage.values()),
        "bandwidth_used": sum(int(b.get("bytes_served", 0)) for b in traffic),
        "system_uptime": pct(sum(int(b["up_seconds"]) for b in uptime), observed) if observed else None,
        "error_rate": pct(
            sum(int(b.get("errors", 0)) for b in traffic), sum(int(b["requests"]) for b in traffic)
        ),
    }


def assessment_analytics(
    facts: Facts, assessments: Iterable[int], first: date, last: date, person: str | None = None
) -> dict[int, dict[str, Any]]:
    """Per assessment (``person``'s attempts only, when given); one that no course lists and nobody started
    in the period is left out."""
    wanted = set(assessments)
    attempts: dict[int, list[Attempt]] = defaultdict(list)
    for t in facts.attempts:
        if t.assessment in wanted and first <= t.started <= last and person in (None, t.person):
            attempts[t.assessment].append(t)
    listing: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for course, body in facts.courses().items():
        for x in body.get("assessments", []):
            listing[int(x["assessment_id"])].append((course, x["assessment_type"]))
    out = {}
    for assessment in wanted:
        mine = attempts.get(assessment, [])
        if listing.get(assessment):
            course, kind = min(listing[assessment])
        elif mine:
            course, kind = min((t.course, t.kind) for t in mine)
        else:
            continue
        bodies = [t.snapshot.body for t in mine]
        scored = [b for b in bodies if b.get("score") is not None]
        judged = [b for b in bodies if b.get("passed") is not None]
        handed = [t.snapshot.body for t in mine if t.snapshot.type in HANDED_IN]
        timed = [int(b["time_taken_seconds"]) for b in handed if b.get("time_taken_seconds") is not None]
        average = pct(
            sum(hundredths_of(b["score"]) for b in scored), sum(hundredths_of(b["max_score"]) for b in scored)
        )
        out[assessment] = {
            "assessment_id": assessment,
            "assessment_type": kind,
            "course_id": course,
            "total_attempts": len(mine),
            "completed_attempts": len(handed),
            "average_score": average,
            "pass_rate": pct(sum(1 for b in judged if b["passed"]), len(judged)),
            "average_time_taken": mean_minutes(sum(timed), len(timed)),
            "difficulty_score": Decimal(100) - average if scored else Decimal("0.00"),
            "period_start": first,
            "period_end": last,
            "tenant_id": facts.tenant_id,
        }
    return out


def video_watch_rows(
    facts: Facts, students: Iterable[int] | None, first: date, last: date, course: int | None = None
) -> dict[int, list[dict[str, Any]]]:
    """Each student's watch sessions that started in the period, as sent, by start time (``students``
    ``None``: every student who watched; ``course``: in that course only)."""
    out: dict[int, list[dict[str, Any]]] = {student: [] for student in students or ()}
    for events in facts.by_day.values():
        for a in events:
            if a.type != "video_watched" or not a.person.startswith("student:"):
                continue
            student = int(a.person.removeprefix("student:"))
            if (students is not None and student not in out) or (course is not None and a.course != course):
                continue
            b = a.body
            start = moment(b["start_time"])
            if not first <= facts.local_day(start) <= last:
                continue
            out.setdefault(student, []).append(
                {
                    "video_id": int(b["video_id"]),
                    "student_id": student,
                    "session_id": b["session_id"],
                    "watch_duration": int(b["watch_duration"]),
                    "completion_percentage": Decimal(hundredths_of(b["completion_percentage"])) / 100,
                    "start_time": start,
                    "end_time": moment(b["end_time"]) if b.get("end_time") is not None else None,
                    "device_type": b.get("device_type"),
                    "playback_quality": b.get("playback_quality"),
                    "buffer_events": b.get("buffer_events"),
                    "seek_events": b.get("seek_events"),
                    "tenant_id": facts.tenant_id,
                }
            )
    for rows in out.values():
        rows.sort(key=lambda r: (r["start_time"], r["video_id"], r["session_id"]))
    return out


def video_analytics(facts: Facts, course: int, first: date, last: date) -> list[dict[str, Any]]:
    """Per video of ``course`` with a watch session whose event's local day is in the period, by video id:
    sessions, distinct viewers, seconds, mean completion (two decimals, half up), share of sessions at 90 %
    or more, buffering and seeks, sessions by device type and by quality (``""`` when not sent)."""
    per: dict[int, list[dict[str, Any]]] = defaultdict(list)
    viewers: dict[int, set[str]] = defaultdict(set)
    for day, events in facts.by_day.items():
        if not first <= day <= last:
            continue
        for a in events:
            if a.type == "video_watched" and a.course == course:
                per[int(a.body["video_id"])].append(a.body)
                viewers[int(a.body["video_id"])].add(a.person)
    out = []
    for video in sorted(per):
        bodies = per[video]
        completion = [hundredths_of(b["completion_percentage"]) for b in bodies]
        devices: dict[str, int] = defaultdict(int)
        qualities: dict[str, int] = defaultdict(int)
        for b in bodies:
            devices[b.get("device_type") or ""] += 1
            qualities[b.get("playback_quality") or ""] += 1
        out.append(
            {
                "video_id": video,
                "course_id": course,
                "tenant_id": facts.tenant_id,
                "period_start": first,
                "period_end": last,
                "watch_sessions": len(bodies),
                "unique_viewers": len(viewers[video]),
                "total_watch_seconds": sum(int(b["watch_duration"]) for b in bodies),
                "average_completion": (Decimal(sum(completion)) / len(bodies) / 100).quantize(
                    Decimal("0.01"), rounding=ROUND_HALF_UP
                ),
                "completion_rate": pct(sum(1 for c in completion if c >= 9000), len(bodies)),
                "buffer_events": sum(int(b.get("buffer_events") or 0) for b in bodies),
                "seek_events": sum(int(b.get("seek_events") or 0) for b in bodies),
                "sessions_by_device": dict(sorted(devices.items())),
                "sessions_by_quality": dict(sorted(qualities.items())),
            }
        )
    return out


def traffic_analytics(facts: Facts, first: date, last: date) -> dict[str, Any]:
    """The traffic samples whose local day is in the period, summed over every source: requests, errors,
    bytes, mean latency (ms, two decimals half up, from each sample's ``latency_ms_sum`` × 1000 rounded to
    whole µs as stored), histogram, countries and regions (keys with a zero total left out)."""
    totals = {"requests": 0, "errors": 0, "bytes_served": 0}
    latency_us = 0
    maps: dict[str, dict[str, int]] = {
        "latency_ms_histogram": defaultdict(int),
        "requests_by_country": defaultdict(int),
        "requests_by_region": defaultdict(int),
    }
    for _, day, body in facts.samples:
        if body["type"] != "traffic" or not first <= day <= last:
            continue
        for name in totals:
            totals[name] += int(body.get(name, 0))
        latency_us += round(float(body.get("latency_ms_sum", 0)) * 1000)
        for name, into in maps.items():
            for key, count in (body.get(name) or {}).items():
                into[str(key)] += int(count)
    requests = totals["requests"]
    average = (
        (Decimal(latency_us) / 1000 / requests).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if requests
        else Decimal("0.00")
    )
    return {
        "tenant_id": facts.tenant_id,
        "period_start": first,
        "period_end": last,
        **totals,
        "error_rate": pct(totals["errors"], requests),
        "average_latency_ms": average,
        **{name: {k: v for k, v in sorted(into.items()) if v} for name, into in maps.items()},
    }


def user_progress(facts: Facts, student: int, course: int | None = None) -> dict[str, Any]:
    """A student's enrollments as their newest versions say (deleted ones left out), by course id, with
    counts by status and the mean progress of those not dropped."""
    items = []
    for key, body in facts.current["enrollment"].items():
        if key[1] != str(student) or (course is not None and key[2] != str(course)):
            continue
        items.append(
            {
                "course_id": int(body["course_id"]),
                "status": body.get("status", "active"),
                "progress_percentage": Decimal(hundredths_of(body.get("progress_percentage", 0))) / 100,
                "enrolled_at": moment(body["enrolled_at"]),
                "completed_at": moment(body["completed_at"]) if body.get("completed_at") else None,
                "dropped_at": moment(body["dropped_at"]) if body.get("dropped_at") else None,
            }
        )
    items.sort(key=lambda c: c["course_id"])
    kept = [hundredths_of(c["progress_percentage"]) for c in items if c["status"] != "dropped"]
    return {
        "student_id": student,
        "tenant_id": facts.tenant_id,
        "enrolled_courses": len(items),
        "active_courses": sum(1 for c in items if c["status"] == "active"),
        "completed_courses": sum(1 for c in items if c["status"] == "completed"),
        "dropped_courses": sum(1 for c in items if c["status"] == "dropped"),
        "average_progress": pct(sum(kept), 10_000 * len(kept)) if kept else Decimal("0.00"),
        "courses": items,
    }


def events_by_hour_of_week(facts: Facts, first: date, last: date) -> list[int]:
    """Learning events (every type, every person) whose local day is in the period, per local hour of the
    week: Monday 00:00–00:59 first, 168 counts."""
    counts = [0] * 168
    for day, events in facts.by_day.items():
        if first <= day <= last:
            for a in events:
                local = a.when.astimezone(facts.zone)
                counts[local.weekday() * 24 + local.hour] += 1
    return counts


def _unit(day: date, monthly: bool) -> date:
    return day.replace(day=1) if monthly else day - timedelta(days=day.weekday())


def _after(day: date, monthly: bool) -> date:
    if monthly:
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return day + timedelta(days=7)


def active_days(facts: Facts, course: int | None = None) -> dict[str, set[date]]:
    """Person key → local days with a learning event (in ``course`` only, when given)."""
    out: dict[str, set[date]] = defaultdict(set)
    for day, events in facts.by_day.items():
        for a in events:
            if course is None or a.course == course:
                out[a.person].add(day)
    return out


def cohorts(
    facts: Facts, by: str, first: date, last: date, today: date, filters: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The cohort table of ``by`` (``SIGNUP_WEEK`` … ``ENROLLMENT_MONTH``) for cohorts starting in the units
    that meet ``[first, last]``: size, members active per offset (≤ 12, not past ``today``), share."""
    filters = filters or {}
    monthly = by.endswith("MONTH")
    members: dict[Any, date] = {}
    if by.startswith("SIGNUP"):
        for body in facts.current["user"].values():
            if filters.get("userType") not in (None, body["user_type"]):
                continue
            if "instituteId" in filters and str(body.get("institute_id")) != filters["instituteId"]:
                continue
            members[f"{body['user_type']}:{body['user_id']}"] = facts.local_day(moment(body["signed_up_at"]))
        days = active_days(facts)

        def active(member: Any) -> set[date]:
            return days.get(member, set())
    else:
        institutes = {c: str(b.get("institute_id")) for c, b in facts.courses().items()}
        for body in facts.current["enrollment"].values():
            course = int(body["course_id"])
            if "courseId" in filters and str(course) != filters["courseId"]:
                continue
            if "instituteId" in filters and institutes.get(course) != filters["instituteId"]:
                continue
            members[(f"student:{body['student_id']}", course)] = facts.local_day(moment(body["enrolled_at"]))
        by_course = {c: active_days(facts, c) for c in {course for _, course in members}}

        def active(member: Any) -> set[date]:
            return by_course[member[1]].get(member[0], set())

    out = []
    start = _unit(first, monthly)
    while start <= last:
        end = _after(start, monthly) - timedelta(days=1)
        group = [m for m, joined in members.items() if start <= joined <= end]
        counts = []
        window = start
        while window <= today and len(counts) < 12:
            window_end = _after(window, monthly) - timedelta(days=1)
            counts.append(sum(1 for m in group if any(window <= d <= window_end for d in active(m))))
            window = window_end + timedelta(days=1)
        out.append(
            {
                "cohort_start": start,
                "cohort_end": end,
                "size": len(group),
                "active": counts,
                "retention": [pct(c, len(group)) for c in counts],
            }
        )
        start = end + timedelta(days=1)
    return out


def retention(facts: Facts, spans: list[tuple[date, date]], segment_by: str) -> list[dict[str, Any]]:
    """Per segment (sorted), per span: active, new (first activity ever in it), returning, retained (also
    active in the span before; before the first, the same number of days just before it) and the rate."""
    days = active_days(facts)
    last = spans[-1][1]
    institutes = {
        f"{b['user_type']}:{b['user_id']}": int(b.get("institute_id") or 0)
        for b in facts.current["user"].values()
    }
    segments: dict[str, list[set[date]]] = defaultdict(list)
    for person, seen in days.items():
        seen = {d for d in seen if d <= last}
        if not seen:
            continue
        kind = person.split(":")[0]
        segment = {"NONE": "all", "USER_TYPE": kind, "INSTITUTE": f"institute:{institutes.get(person, 0)}"}[
            segment_by
        ]
        segments[segment].append(seen)
    length = (spans[0][1] - spans[0][0]).days + 1
    windows = [(spans[0][0] - timedelta(days=length), spans[0][0] - timedelta(days=1)), *spans]
    out = []
    for segment in sorted(segments):
        people = segments[segment]
        points = []
        for (p0, p1), (s0, s1) in zip(windows, windows[1:], strict=False):
            active = [d for d in people if any(s0 <= x <= s1 for x in d)]
            before = [d for d in people if any(p0 <= x <= p1 for x in d)]
            new = sum(1 for d in active if s0 <= min(d) <= s1)
            retained = sum(1 for d in active if any(p0 <= x <= p1 for x in d))
            points.append(
                {
                    "period_start": s0,
                    "period_end": s1,
                    "active_users": len(active),
                    "new_users": new,
                    "returning_users": len(active) - new,
                    "retained_users": retained,
                    "retention_rate": pct(retained, len(before)),
                }
            )
        out.append({"segment": segment, "points": points})
    return out
