"""The oracle of the engagement, completion, health and institute reads of the LMS API (issue 19): plain
Python over the facts of :mod:`tests.support.lms_oracle` (the request bodies as sent, deduplicated), written
from the documented definitions, never from the production SQL."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tests.support import lms_oracle as oracle
from tests.support.lms_oracle import Facts, moment, ms, pct, whole_minutes

HANDED = ("assessment_submitted",)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@dataclass
class _Learner:
    days: set[date] = field(default_factory=set)
    events: int = 0
    views: int = 0
    watch_seconds: int = 0
    completions: int = 0
    quiz_attempts: int = 0
    quiz_submissions: int = 0
    assignment_submissions: int = 0

    def add(self, a: oracle.Activity) -> None:
        b = a.body
        self.days.add(a.day)
        self.events += 1
        if a.type in ("content_viewed", "video_watched"):
            self.views += 1
        if a.type == "video_watched":
            self.watch_seconds += int(b["watch_duration"])
        elif a.type == "course_completed":
            self.completions += 1
        elif a.type == "assessment_started" and b["assessment_type"] == "quiz":
            self.quiz_attempts += 1
        elif a.type == "assessment_submitted":
            if b["assessment_type"] == "quiz":
                self.quiz_submissions += 1
            else:
                self.assignment_submissions += 1

    def row(self, person: str, course: int, period_days: int) -> dict[str, Any]:
        kind, ident = person.split(":")
        return {
            "user_id": int(ident),
            "user_type": kind,
            "course_id": course,
            "active_days": len(self.days),
            "engagement_score": pct(len(self.days), period_days),
            "events": self.events,
            "views": self.views,
            "total_watch_time": whole_minutes(self.watch_seconds),
            "completions": self.completions,
            "quiz_attempts": self.quiz_attempts,
            "quiz_submissions": self.quiz_submissions,
            "assignment_submissions": self.assignment_submissions,
            "last_active_date": max(self.days) if self.days else None,
        }


def _learners(
    facts: Facts, first: date, last: date, person: str | None = None, course: int | None = None
) -> dict[tuple[int, str], _Learner]:
    """(course, person) → what the person did in the course in the period (course-scoped events only)."""
    out: dict[tuple[int, str], _Learner] = defaultdict(_Learner)
    for a in facts.events(first, last):
        if a.course and (person is None or a.person == person) and (course is None or a.course == course):
            out[(a.course, a.person)].add(a)
    return out


def course_engagement(facts: Facts, course: int, first: date, last: date) -> dict[str, Any]:
    n = (last - first).days + 1
    summary = oracle.course_analytics(facts, [course], first, last)[course]
    made = facts.enrollments(last).get(course, [])
    learners = {f"student:{b['student_id']}" for b in made if not facts.by_end(b, "dropped_at", last)}
    activity = {p: item for (c, p), item in _learners(facts, first, last, course=course).items()}
    students = {p for p in activity if p.startswith("student:")} | learners
    everyone = list(activity.values())
    return {
        "course_id": course,
        "tenant_id": facts.tenant_id,
        "period_start": first,
        "period_end": last,
        "enrolled_students": len(learners),
        "active_students": sum(1 for p in activity if p.startswith("student:")),
        "engagement_score": summary["engagement_score"],
        "total_views": sum(i.views for i in everyone),
        "total_watch_time": whole_minutes(sum(i.watch_seconds for i in everyone)),
        "quiz_attempts": sum(i.quiz_attempts for i in everyone),
        "assignment_submissions": sum(i.assignment_submissions for i in everyone),
        "students": [
            activity.get(p, _Learner()).row(p, course, n)
            for p in sorted(students, key=lambda p: int(p.split(":")[1]))
        ],
    }


def user_engagement(
    facts: Facts, person: str, first: date, last: date, course: int | None = None
) -> dict[str, Any]:
    n = (last - first).days + 1
    per_day: dict[date, int] = defaultdict(int)
    for a in facts.events(first, last):
        if a.person == person and (course is None or a.course == course):
            per_day[a.day] += 1
    kind, ident = person.split(":")
    courses = _learners(facts, first, last, person=person, course=course)
    active = sum(1 for count in per_day.values() if count)
    return {
        "user_id": int(ident),
        "user_type": kind,
        "tenant_id": facts.tenant_id,
        "period_start": first,
        "period_end": last,
        "course_id": course,
        "active_days": active,
        "engagement_score": pct(active, n),
        "events": sum(per_day.values()),
        "daily": [{"date": day, "events": per_day.get(day, 0)} for day in _days(first, last)],
        "courses": [item.row(p, c, n) for (c, p), item in sorted(courses.items())],
    }


def _enrollment_figures(facts: Facts, course: int, first: date, last: date) -> dict[str, Any]:
    made = facts.enrollments(last).get(course, [])

    def within(body: dict[str, Any], name: str) -> bool:
        return body.get(name) is not None and first <= facts.local_day(moment(body[name])) <= last

    done_now = [b for b in made if within(b, "completed_at")]
    took = sum(max(0, ms(moment(b["completed_at"])) - ms(moment(b["enrolled_at"]))) for b in done_now)
    return {
        "total": len(made),
        "new": sum(1 for b in made if within(b, "enrolled_at")),
        "completed_by_end": sum(1 for b in made if facts.by_end(b, "completed_at", last)),
        "completed_now": len(done_now),
        "dropped": sum(1 for b in made if facts.by_end(b, "dropped_at", last)),
        "days_to_complete": (
            (Decimal(took) / len(done_now) / 86_400_000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            if done_now
            else Decimal("0.00")
        ),
        "learners": [str(b["student_id"]) for b in made if not facts.by_end(b, "dropped_at", last)],
    }


BANDS = ((0, 25), (25, 50), (50, 75), (75, 100), (100, 100))


def course_completion(
    facts: Facts, course: int, first: date, last: date, group_by: str, spans: list[tuple[date, date]]
) -> dict[str, Any]:
    whole = _enrollment_figures(facts, course, first, last)
    bands = [0] * len(BANDS)
    for student in whole["learners"]:
        progress = Decimal(facts.progress_as_of(student, course, last)) / 100
        bands[
            next(
                i for i, (low, high) in enumerate(BANDS) if low <= progress < high or low == high == progress
            )
        ] += 1
    trend = []
    for low, high in spans:
        part = _enrollment_figures(facts, course, low, high)
        trend.append(
            {
                "period_start": low,
                "period_end": high,
                "new_enrollments": part["new"],
                "completions": part["completed_now"],
                "completion_rate": pct(part["completed_by_end"], part["total"]),
            }
        )
    return {
        "course_id": course,
        "tenant_id": facts.tenant_id,
        "period_start": first,
        "period_end": last,
        "total_enrollments": whole["total"],
        "new_enrollments": whole["new"],
        "completed_enrollments": whole["completed_by_end"],
        "completed_in_period": whole["completed_now"],
        "dropped_enrollments": whole["dropped"],
        "completion_rate": pct(whole["completed_by_end"], whole["total"]),
        "average_progress": oracle.course_analytics(facts, [course], first, last)[course]["average_progress"],
        "average_days_to_complete": whole["days_to_complete"],
        "progress_distribution": [
            {"from_percent": low, "to_percent": high, "enrollments": count}
            for (low, high), count in zip(BANDS, bands, strict=True)
        ],
        "group_by": group_by,
        "trend": trend,
    }


def system_performance(facts: Facts, first: date, last: date, metric: str) -> dict[str, Any]:
    def health(low: date, high: date) -> dict[str, Any]:
        traffic = oracle.traffic_analytics(facts, low, high)
        return {
            "requests": traffic["requests"],
            "errors": traffic["errors"],
            "error_rate": traffic["error_rate"],
            "average_latency_ms": traffic["average_latency_ms"],
            "system_uptime": oracle.system_metrics(facts, low, high)["system_uptime"],
        }

    return {
        "tenant_id": facts.tenant_id,
        "period_start": first,
        "period_end": last,
        **health(first, last),
        "metric": metric,
        "trend": [
            {"period_start": day, "period_end": day, "value": health(day, day)[metric]}
            for day in _days(first, last)
        ],
    }


def institutes(facts: Facts) -> list[int]:
    found = {int(key[1]) for key in facts.current["institute"]}
    for kind in ("course", "user"):
        found |= {int(b["institute_id"]) for b in facts.current[kind].values() if b.get("institute_id")}
    return sorted(found)


def institute_figures(facts: Facts, institute: int, first: date, last: date) -> dict[str, Any]:
    people = {
        f"{b['user_type']}:{b['user_id']}": b
        for b in facts.current["user"].values()
        if int(b.get("institute_id") or 0) == institute
    }
    courses = {c: b for c, b in facts.courses().items() if int(b.get("institute_id") or 0) == institute}
    events = list(facts.events(first, last))
    mine = [a for a in events if a.person in people]
    logouts = [int(a.body["duration_seconds"]) for a in mine if a.type == "logout"]
    in_courses = [a for a in events if a.course in courses]
    tallies = oracle._courses(facts, courses, first, last)
    learners = sum(len(t.learners) for t in tallies.values())
    progress = [
        facts.progress_as_of(s.split(":")[1], c, last) for c, t in tallies.items() for s in t.learners
    ]
    made = [b for t in tallies.values() for b in t.made]
    return {
        "institute_id": institute,
        "total_users": sum(1 for b in people.values() if facts.by_end(b, "signed_up_at", last)),
        "active_users": len({a.person for a in mine}),
        "total_courses": sum(
            1
            for b in courses.values()
            if b.get("is_published", False)
            and (b.get("published_at") is None or facts.by_end(b, "published_at", last))
        ),
        "active_courses": len({a.course for a in in_courses}),
        "total_enrollments": len(made),
        "active_students": len({a.person for a in in_courses if a.person.startswith("student:")}),
        "completion_rate": pct(sum(1 for b in made if facts.by_end(b, "completed_at", last)), len(made)),
        "average_progress": pct(sum(progress), 10_000 * len(progress)) if progress else Decimal("0.00"),
        "engagement_score": pct(
            sum(len(t.active_days) for t in tallies.values()), learners * ((last - first).days + 1)
        ),
        "total_watch_time": whole_minutes(sum(t.watch_seconds for t in tallies.values())),
        "total_sessions": sum(1 for a in mine if a.type == "login"),
        "average_session_duration": oracle.mean_minutes(sum(logouts), len(logouts)),
    }
