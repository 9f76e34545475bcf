"""A term of one tenant's learning activity (``lms_activity``) and the enrollment versions it causes.

Students enroll (most before the term, some in its first weeks, new students right after signing up, a
few in a course launched mid-term), then come back in sessions: more on weekday evenings, fewer at
weekends and over the year-end holidays, less and less as the term goes on (half as many at its end), a
bump before it ends. A
session is a login, a few learning steps in one of the student's courses and usually a logout (some time
out without one). A step follows the course's syllabus where it is released — read a page, watch a video,
take a quiz or hand in an assignment — or reviews something done before. Attempts are snapshots (started,
submitted, graded; some quizzes abandoned, some assignments regraded later by a course teacher), progress
is reported per document and per course, and the enrollment gets a new version every ten points of
progress, on completion and on a drop. Teachers and admins have daytime sessions of their own.

Delivery: a mobile session is sometimes synced days later (every item of it late), mobile items carry a
client event ``id`` and a few are sent twice (a retry), some enrollment documents arrive after the first
activity in their course, and some enrollments' versions are delivered out of order.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Any

from loadgen.lms_catalog import DEVICES, Assessment, Catalog, Course, Person, Unit, weighted
from loadgen.lms_feed import DAY_S, HOUR_S, Feed, ms, version_of
from schemas.topics import Stream

# Relative activity by local hour (0-23).
_STUDENT_WEEKDAY_HOURS = (
    0.25, 0.1, 0.04, 0.02, 0.02, 0.03, 0.08, 0.2, 0.3, 0.35, 0.4, 0.45,
    0.45, 0.45, 0.5, 0.55, 0.6, 0.7, 0.85, 1.0, 1.0, 0.9, 0.7, 0.45,
)  # fmt: skip
_STUDENT_WEEKEND_HOURS = (
    0.3, 0.15, 0.06, 0.03, 0.02, 0.02, 0.03, 0.08, 0.2, 0.4, 0.55, 0.65,
    0.7, 0.7, 0.7, 0.65, 0.6, 0.6, 0.65, 0.7, 0.7, 0.6, 0.5, 0.4,
)  # fmt: skip
_STAFF_HOURS = (
    0, 0, 0, 0, 0, 0, 0.05, 0.3, 0.8, 1.0, 1.0, 0.9,
    0.6, 0.8, 1.0, 0.9, 0.7, 0.4, 0.2, 0.15, 0.1, 0.05, 0, 0,
)  # fmt: skip
WEEKDAY_FACTOR = (1.0, 1.05, 1.0, 0.9, 0.7, 0.45, 0.6)
"""Relative student activity Monday … Sunday."""
STUDENT_SESSIONS_PER_DAY = 0.3
"""A typical student's sessions on a Monday at the start of the term (before ``activity_scale``)."""
TEACHER_SESSIONS_PER_WEEKDAY = 0.7
ADMIN_SESSIONS_PER_WEEKDAY = 0.35
LATE_SHARE = {"mobile": 0.06, "tablet": 0.01, "desktop": 0.005}
"""Share of sessions, by device, synced days late (an app offline)."""
RESEND_SHARE = 0.005
"""Share of items with a client id that are sent twice."""
DROP_SHARE = 0.07
LATE_ENROLLMENT_DOCUMENT_SHARE = 0.25
"""Share of in-term enrollments whose first document arrives after the student's first steps."""
OUT_OF_ORDER_SHARE = 0.08
"""Share of enrollments with two versions whose older version is delivered after the newer one."""
_OTHER_VERBS = ("commented", "answered", "bookmarked", "liked")
_QUALITIES = (("1080p", 0.35), ("720p", 0.35), ("480p", 0.15), ("auto", 0.15))
_AGENTS = {
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "mobile": "LearnApp/5.2 (iPhone; iOS 18.1)",
    "tablet": "LearnApp/5.2 (iPad; iPadOS 18.1)",
}


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method: the means here are small)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _number(value: float) -> int | float:
    """A JSON number with at most two decimals: integral values as integers."""
    rounded = round(value, 2)
    return int(rounded) if rounded == int(rounded) else rounded


@dataclass(slots=True)
class _Version:
    at: float
    body: dict[str, Any]
    delay: float


@dataclass(slots=True)
class Enrollment:
    student: Person
    course: Course
    enrolled_at: float
    dropped_at: float | None
    done: set[int] = field(default_factory=set)
    status: str = "active"
    completed_at: float | None = None
    reported_step: int = 0
    versions: list[_Version] = field(default_factory=list)

    @property
    def progress(self) -> float:
        return round(100 * len(self.done) / len(self.course.units), 2)

    def active_at(self, at: float) -> bool:
        return (
            self.enrolled_at <= at
            and self.course.opens_at <= at
            and (self.dropped_at is None or at < self.dropped_at)
        )


@dataclass(frozen=True, slots=True)
class _Session:
    person: Person
    session_id: str
    device: str
    delay: float


class _Clock:
    """Local days of the term in the tenant's zone (a DST change makes one 23 or 25 hours long)."""

    def __init__(self, feed: Feed, first: date, days: int) -> None:
        self.zone = feed.zone
        self.dates = [first + timedelta(days=offset) for offset in range(days + 1)]
        self.starts = [self.at(day, 0.0) for day in self.dates]

    def at(self, day: date, hours: float) -> float:
        whole = int(hours)
        minutes = (hours - whole) * 60
        local = datetime(day.year, day.month, day.day, whole, int(minutes), int((minutes % 1) * 60))
        return ms(local.replace(tzinfo=self.zone).timestamp())


class _HourDraw:
    def __init__(self, weights: tuple[float, ...]) -> None:
        self._cumulative = list(accumulate(weights))

    def draw(self, rng: random.Random) -> float:
        hour = bisect(self._cumulative, rng.random() * self._cumulative[-1])
        return min(hour, 23) + rng.random()


class TermActivity:
    """Simulates the term of ``catalog`` into ``feed`` (call :meth:`run` once)."""

    def __init__(self, feed: Feed, catalog: Catalog, rng: random.Random, clock: _Clock, scale: float) -> None:
        self.feed = feed
        self.catalog = catalog
        self.rng = rng
        self.clock = clock
        self.scale = scale
        self.sessions = 0
        self.enrollments: dict[int, list[Enrollment]] = {}
        self._student_hours = (_HourDraw(_STUDENT_WEEKDAY_HOURS), _HourDraw(_STUDENT_WEEKEND_HOURS))
        self._staff_hours = _HourDraw(_STAFF_HOURS)

    @classmethod
    def for_term(
        cls, feed: Feed, catalog: Catalog, rng: random.Random, first: date, days: int, scale: float
    ) -> TermActivity:
        return cls(feed, catalog, rng, _Clock(feed, first, days), scale)

    def run(self) -> None:
        self._enroll()
        for student in self.catalog.students:
            self._student_term(student)
        for teacher in self.catalog.teachers:
            self._staff_term(teacher, TEACHER_SESSIONS_PER_WEEKDAY)
        for admin in self.catalog.admins:
            self._staff_term(admin, ADMIN_SESSIONS_PER_WEEKDAY)
        self._deliver_enrollments()

    # ---- enrollments -----------------------------------------------------------------------------------

    def _enroll(self) -> None:
        rng, catalog = self.rng, self.catalog
        regular = [c for c in catalog.courses if c.published_at is not None and not c.launched_in_term]
        launched = [c for c in catalog.courses if c.launched_in_term]
        span = catalog.term_end - catalog.term_start
        days = round(span / DAY_S)
        for student in catalog.students:
            weights = [c.popularity * (3 if c.institute_id == student.institute_id else 1) for c in regular]
            count = min(len(regular), rng.choices((1, 2, 3, 4), (0.2, 0.4, 0.3, 0.1))[0])
            chosen: list[Course] = []
            while len(chosen) < count:
                course = rng.choices(regular, weights)[0]
                if course not in chosen:
                    chosen.append(course)
            enrolled = []
            for course in chosen:
                if student.signed_up_at > catalog.sync_at:
                    at = student.signed_up_at + rng.uniform(2, 20) * 60
                elif rng.random() < 0.7:
                    at = catalog.sync_at - rng.uniform(1, 21) * DAY_S
                else:
                    at = (
                        catalog.term_start
                        + rng.randrange(max(1, days // 8)) * DAY_S
                        + rng.uniform(9, 21) * HOUR_S
                    )
                enrolled.append((course, at))
            for course in launched:
                if rng.random() < (0.2 if course.institute_id == student.institute_id else 0.1):
                    at = max(course.opens_at, student.signed_up_at) + rng.uniform(0.0005, 0.1) * span
                    enrolled.append((course, at))
            self.enrollments[student.user_id] = [self._enrollment(student, c, ms(at)) for c, at in enrolled]

    def _enrollment(self, student: Person, course: Course, enrolled_at: float) -> Enrollment:
        rng, catalog = self.rng, self.catalog
        dropped_at = None
        if rng.random() < DROP_SHARE:
            latest = catalog.term_start + 0.6 * (catalog.term_end - catalog.term_start)
            earliest = max(enrolled_at, catalog.term_start) + 3 * DAY_S
            if earliest < latest:
                dropped_at = ms(rng.uniform(earliest, latest))
        enrollment = Enrollment(student, course, enrolled_at, dropped_at)
        if enrolled_at <= catalog.sync_at:  # in the first sync, after the users
            self._version(enrollment, catalog.sync_at + 60 + 0.001 * len(self.enrollments))
        else:
            late = rng.random() < LATE_ENROLLMENT_DOCUMENT_SHARE
            self._version(enrollment, enrolled_at, delay=rng.uniform(0.5, 2) * DAY_S if late else 0.0)
        return enrollment

    def _version(self, enrollment: Enrollment, at: float, delay: float = 0.0) -> None:
        if enrollment.versions and at <= enrollment.versions[-1].at:
            at = enrollment.versions[-1].at + 0.001
        at = ms(at)
        feed = self.feed
        body: dict[str, Any] = {
            "type": "enrollment",
            "timestamp": feed.time(at),
            "version": version_of(at),
            "student_id": enrollment.student.user_id,
            "course_id": enrollment.course.course_id,
            "enrolled_at": feed.time(enrollment.enrolled_at),
            "status": enrollment.status,
            "progress_percentage": _number(enrollment.progress),
        }
        if enrollment.completed_at is not None:
            body["completed_at"] = feed.time(enrollment.completed_at)
        if enrollment.status == "dropped" and enrollment.dropped_at is not None:
            body["dropped_at"] = feed.time(enrollment.dropped_at)
        enrollment.versions.append(_Version(at, body, delay))

    def _deliver_enrollments(self) -> None:
        rng = self.rng
        for enrollments in self.enrollments.values():
            for enrollment in enrollments:
                versions = enrollment.versions
                if len(versions) >= 2 and rng.random() < OUT_OF_ORDER_SHARE:
                    older = rng.randrange(len(versions) - 1)
                    newer = versions[older + 1]
                    arrives = newer.at + newer.delay + rng.uniform(1, 12) * HOUR_S
                    versions[older].delay = arrives - versions[older].at
                for version in versions:
                    self.feed.add(Stream.LMS_ENTITIES, version.body, version.at, version.delay)

    # ---- sessions --------------------------------------------------------------------------------------

    def _day_rate(self, index: int) -> float:
        day = self.clock.dates[index]
        days = len(self.clock.dates) - 1
        rate = WEEKDAY_FACTOR[day.weekday()] * (1.0 - 0.5 * index / days)
        if (day.month, day.day) >= (12, 21) or (day.month, day.day) <= (1, 3):
            rate *= 0.3  # the year-end holidays
        if index >= 0.9 * days:
            rate *= 1.25  # before the term ends
        return rate * self.scale

    def _student_term(self, student: Person) -> None:
        rng, clock, catalog = self.rng, self.clock, self.catalog
        free_at = 0.0
        first_session = student.signed_up_at > catalog.term_start
        for index in range(len(clock.dates) - 1):
            day, day_end = clock.dates[index], clock.starts[index + 1]
            if day_end <= student.signed_up_at:
                continue
            hours = self._student_hours[day.weekday() >= 5]
            starts = sorted(
                clock.at(day, hours.draw(rng))
                for _ in range(
                    poisson(rng, STUDENT_SESSIONS_PER_DAY * student.diligence * self._day_rate(index))
                )
            )
            if first_session:  # a new student looks around right after signing up
                starts.insert(0, ms(student.signed_up_at + rng.uniform(25, 60) * 60))
                first_session = False
            for start in starts:
                start = max(start, free_at + rng.uniform(10, 60) * 60)
                if start < student.signed_up_at or start > catalog.term_end - 3 * HOUR_S:
                    continue
                if student.deleted_at is not None and start >= student.deleted_at:
                    break
                self._drops_until(student, start)
                free_at = self._student_session(student, start)
        self._drops_until(student, catalog.term_end)

    def _drops_until(self, student: Person, at: float) -> None:
        for enrollment in self.enrollments[student.user_id]:
            dropped = enrollment.dropped_at
            if dropped is not None and dropped <= at and enrollment.status == "active":
                if student.deleted_at is not None and dropped >= student.deleted_at:
                    enrollment.dropped_at = None
                    continue
                enrollment.status = "dropped"
                self._version(enrollment, dropped)

    def _open(self, person: Person, start: float) -> _Session:
        rng = self.rng
        device = person.device if rng.random() < 0.8 else weighted(rng, DEVICES)
        self.sessions += 1
        session_id = f"{person.user_type[0]}{person.user_id}-{self.sessions:06d}-{rng.getrandbits(32):08x}"
        delay = rng.uniform(1, 5) * DAY_S if rng.random() < LATE_SHARE[device] else 0.0
        session = _Session(person, session_id, device, delay)
        extra: dict[str, Any] = {"user_agent": _AGENTS[device]}
        if rng.random() < 0.7:
            extra["ip_address"] = (
                f"{rng.randrange(11, 200)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            )
        self._emit(session, "login", start, extra)
        return session

    def _close(self, session: _Session, start: float, end: float) -> float:
        if self.rng.random() < 0.88:  # the rest time out without a logout
            extra = {"started_at": self.feed.time(start), "duration_seconds": round(end - start)}
            self._emit(session, "logout", end, extra)
        return end

    def _emit(
        self,
        session: _Session,
        kind: str,
        at: float,
        fields: dict[str, Any],
        *,
        subject: Person | None = None,
        delay: float | None = None,
    ) -> None:
        rng, feed = self.rng, self.feed
        person = subject or session.person
        at = ms(at)
        body: dict[str, Any] = {
            "type": kind,
            "timestamp": feed.time(at),
            "user_type": person.user_type,
            "user_id": person.user_id,
        }
        if subject is None:
            body["session_id"] = session.session_id
            if rng.random() < 0.95:
                body["device_type"] = session.device
        mobile = subject is None and session.device == "mobile"
        if mobile:
            body["id"] = feed.event_id()
        body.update(fields)
        wait = session.delay if delay is None else delay
        feed.add(Stream.LMS_ACTIVITY, body, at, wait)
        if mobile and rng.random() < RESEND_SHARE:
            feed.resend(body, Stream.LMS_ACTIVITY, at + wait + rng.uniform(5, 300))

    def _student_session(self, student: Person, start: float) -> float:
        rng = self.rng
        session = self._open(student, start)
        t = start
        active = [e for e in self.enrollments[student.user_id] if e.active_at(start)]
        current = (
            rng.choices(active, [0.3 if e.status == "completed" else 3.0 for e in active])[0]
            if active
            else None
        )
        for _ in range(1 + min(int(rng.expovariate(1 / 2.2)), 9)):
            if t > self.catalog.term_end - 2 * HOUR_S:  # nothing happens after the term
                break
            t += rng.uniform(15, 90)
            if current is None or rng.random() < 0.05:
                course_id = current.course.course_id if current is not None else None
                t = self._other(session, t, course_id)
                continue
            if len(active) > 1 and rng.random() < 0.2:
                current = rng.choice(active)
            t = self._learn(session, current, t)
        return self._close(session, start, t + rng.uniform(10, 120))

    def _other(self, session: _Session, t: float, course_id: int | None) -> float:
        rng = self.rng
        verb = rng.choice(_OTHER_VERBS)
        fields: dict[str, Any] = {
            "verb": verb,
            "object_id": f"https://lms.example/{self.catalog.tenant_id}/forum/{rng.randrange(1, 400)}",
        }
        if course_id is not None:
            fields["course_id"] = course_id
        self._emit(session, "other", t, fields)
        return t + rng.uniform(30, 300)

    # ---- learning steps --------------------------------------------------------------------------------

    def _learn(self, session: _Session, enrollment: Enrollment, t: float) -> float:
        rng = self.rng
        units = enrollment.course.units
        following = next((i for i in range(len(units)) if i not in enrollment.done), None)
        index: int | None = None
        if following is not None and units[following].released_at <= t and rng.random() < 0.75:
            index = following
        review = [i for i in enrollment.done if units[i].kind != "assessment"]
        if index is None and not review:
            return self._other(session, t, enrollment.course.course_id)
        unit = units[index] if index is not None else units[rng.choice(sorted(review))]
        course_id = enrollment.course.course_id
        if unit.kind == "page":
            t, done = self._page(session, course_id, unit, t)
        elif unit.kind == "video":
            t, done = self._video(session, course_id, unit, t, first=index is not None)
        else:
            assert unit.assessment is not None
            t, done = self._attempt(session, enrollment.course, unit.assessment, t)
        if index is not None and done:
            self._progress(session, enrollment, index, t)
        return t

    def _page(self, session: _Session, course_id: int, unit: Unit, t: float) -> tuple[float, bool]:
        rng = self.rng
        fields = {"course_id": course_id, "content_id": unit.content_id, "content_type": unit.content_type}
        self._emit(session, "content_viewed", t, fields)
        t += rng.uniform(60, 600)
        if unit.content_type != "document":
            return t, True
        read = 100 if rng.random() < 0.8 else rng.choice((25, 50, 75))
        fields = {"course_id": course_id, "content_id": unit.content_id, "progress_percentage": read}
        self._emit(session, "progress_updated", t, fields)
        return t, read == 100

    def _video(
        self, session: _Session, course_id: int, unit: Unit, t: float, *, first: bool
    ) -> tuple[float, bool]:
        rng = self.rng
        assert unit.video is not None
        seconds = unit.video.seconds
        complete = rng.random() < (0.65 if first else 0.4)
        percent = round(rng.uniform(90, 100) if complete else rng.uniform(10, 89.99), 2)
        watched = max(1, round(seconds * percent / 100 * rng.uniform(0.95, 1.15)))
        end = ms(t + watched + rng.uniform(0, 0.25) * watched)
        fields: dict[str, Any] = {
            "course_id": course_id,
            "video_id": unit.video.video_id,
            "watch_duration": watched,
            "completion_percentage": _number(percent),
            "start_time": self.feed.time(t),
        }
        if rng.random() < 0.9:
            fields["end_time"] = self.feed.time(end)
        if rng.random() < 0.85:
            fields["playback_quality"] = weighted(rng, _QUALITIES)
        if rng.random() < 0.9:
            fields["buffer_events"] = poisson(rng, 0.3 + (1.2 if session.device == "mobile" else 0.0))
        if rng.random() < 0.9:
            fields["seek_events"] = poisson(rng, 0.8 + watched / 600)
        self._emit(session, "video_watched", end, fields)
        return end, percent >= 90

    def _score(self, student: Person, assessment: Assessment) -> int | float:
        share = min(1.0, max(0.05, self.rng.gauss(student.ability, 0.15)))
        step = 0.5 if assessment.kind == "quiz" else 0.25
        return _number(round(share * assessment.max_score / step) * step)

    def _attempt(
        self, session: _Session, course: Course, assessment: Assessment, t: float
    ) -> tuple[float, bool]:
        rng, feed, catalog = self.rng, self.feed, self.catalog
        student = session.person
        snapshot: dict[str, Any] = {
            "course_id": course.course_id,
            "assessment_id": assessment.assessment_id,
            "assessment_type": assessment.kind,
            "attempt_id": catalog.ids.take("attempt"),
            "started_at": feed.time(t),
            "max_score": assessment.max_score,
        }
        self._emit(session, "assessment_started", t, dict(snapshot))
        quiz = assessment.kind == "quiz"
        if quiz and rng.random() < 0.08:  # abandoned: never submitted
            return t + rng.uniform(60, 400), False
        submitted = ms(t + (rng.uniform(180, 2100) if quiz else rng.uniform(1200, 5400)))
        snapshot.update(submitted_at=feed.time(submitted), time_taken_seconds=round(submitted - t))
        self._emit(session, "assessment_submitted", submitted, dict(snapshot))
        score = self._score(student, assessment)
        passed = None if assessment.passing is None else score >= assessment.passing
        if quiz:  # graded automatically, in the same session
            graded = ms(submitted + rng.uniform(1, 6))
            self._emit(session, "assessment_graded", graded, self._graded(snapshot, score, passed, None))
            if rng.random() < 0.02:
                self._regrade(session, course, assessment, snapshot, score, graded, None)
            return graded, passed is not False or rng.random() < 0.5
        graded = ms(submitted + session.delay + rng.uniform(0.5, 5) * DAY_S)
        if graded < catalog.term_end - HOUR_S:
            teacher = rng.choice(course.teacher_ids)
            fields = self._graded(snapshot, score, passed, teacher)
            self._emit(session, "assessment_graded", graded, fields, subject=student, delay=0.0)
            if rng.random() < 0.05:
                self._regrade(session, course, assessment, snapshot, score, graded, teacher)
        return submitted, True

    @staticmethod
    def _graded(
        snapshot: dict[str, Any], score: int | float, passed: bool | None, teacher: int | None
    ) -> dict[str, Any]:
        fields = {**snapshot, "score": score}
        if passed is not None:
            fields["passed"] = passed
        if teacher is not None:
            fields["graded_by"] = teacher
        return fields

    def _regrade(
        self,
        session: _Session,
        course: Course,
        assessment: Assessment,
        snapshot: dict[str, Any],
        score: int | float,
        graded: float,
        teacher: int | None,
    ) -> None:
        rng = self.rng
        regraded = ms(graded + rng.uniform(1, 7) * DAY_S)
        if regraded >= self.catalog.term_end - HOUR_S:
            return
        better = _number(
            min(assessment.max_score, score + round(rng.uniform(0.05, 0.15) * assessment.max_score))
        )
        passed = None if assessment.passing is None else better >= assessment.passing
        grader = teacher if teacher is not None else rng.choice(course.teacher_ids)
        fields = self._graded(snapshot, better, passed, grader)
        self._emit(session, "assessment_graded", regraded, fields, subject=session.person, delay=0.0)

    def _progress(self, session: _Session, enrollment: Enrollment, index: int, t: float) -> None:
        enrollment.done.add(index)
        course_id = enrollment.course.course_id
        if len(enrollment.done) == len(enrollment.course.units):
            if enrollment.status == "active":
                enrollment.status, enrollment.completed_at = "completed", ms(t)
                self._emit(session, "course_completed", t, {"course_id": course_id})
                self._version(enrollment, t + 0.5, delay=session.delay)
            return
        step = int(enrollment.progress // 10)
        if step > enrollment.reported_step:
            enrollment.reported_step = step
            fields = {"course_id": course_id, "progress_percentage": _number(enrollment.progress)}
            self._emit(session, "progress_updated", t + 0.2, fields)
            self._version(enrollment, t + 0.5, delay=session.delay)

    # ---- staff -----------------------------------------------------------------------------------------

    def _staff_term(self, person: Person, per_weekday: float) -> None:
        rng, clock = self.rng, self.clock
        courses = (
            [c for c in self.catalog.courses if person.user_id in c.teacher_ids]
            if person.user_type == "teacher"
            else []
        )
        free_at = 0.0
        for index in range(len(clock.dates) - 1):
            day = clock.dates[index]
            if day.weekday() >= 5 and rng.random() > 0.15:
                continue
            for _ in range(poisson(rng, per_weekday * self.scale * (1.0 if day.weekday() < 5 else 0.5))):
                start = max(clock.at(day, self._staff_hours.draw(rng)), free_at + 600)
                if start > self.catalog.term_end - 3 * HOUR_S:
                    break
                session = self._open(person, start)
                t = start
                for _ in range(rng.randint(1, 4)):
                    t += rng.uniform(30, 240)
                    if courses and rng.random() < 0.7:
                        course = rng.choice(courses)
                        unit = rng.choice(course.units)
                        fields = {
                            "course_id": course.course_id,
                            "content_id": unit.content_id,
                            "content_type": unit.content_type,
                        }
                        self._emit(session, "content_viewed", t, fields)
                        t += rng.uniform(60, 900)
                    else:
                        verb = "posted" if person.user_type == "teacher" else "exported"
                        fields = {
                            "verb": verb,
                            "object_id": f"https://lms.example/{self.catalog.tenant_id}/"
                            f"{'announcement' if verb == 'posted' else 'report'}/{rng.randrange(1, 900)}",
                        }
                        if courses:
                            fields["course_id"] = rng.choice(courses).course_id
                        self._emit(session, "other", t, fields)
                        t += rng.uniform(60, 600)
                free_at = self._close(session, start, t + rng.uniform(30, 300))
