"""One tenant's learning platform as it stands: institutes, courses (videos, quizzes and assignments, a
syllabus released module by module over the term), teachers, admins and students, and the entity upserts
(``lms_entities``) describing them as a real feed would deliver them.

The platform was connected to analytics a week before the term: its first versions of every entity that
exists by then are one sync at that time (``signed_up_at`` and ``published_at`` may be much older). After
that, versions are sent as things change: a course launched mid-term, a course updated mid-term (a video
added, then its title corrected; the two versions delivered in reverse order), students signing up in the
term's first three weeks (their user document delivered days after their first activity, as a nightly
directory sync would), a few accounts closed (soft-deleted) near the end. Enrollments are the activity
model's (:mod:`loadgen.lms_activity`): they change with what students do.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from loadgen.lms_feed import DAY_S, HOUR_S, Feed, ms, version_of
from schemas.topics import Stream

SYNC_LEAD_DAYS = 7
"""The platform's first sync to analytics happens this many days before the term starts."""
NEW_STUDENT_SHARE = 0.2
"""Students who sign up during the term (the rest existed before the sync)."""
DEVICES = (("desktop", 0.55), ("mobile", 0.3), ("tablet", 0.15))

_INSTITUTE_NAMES = (
    "North Ridge College",
    "Harbor Institute of Technology",
    "Westfield Academy",
    "Lakeside School of Business",
    "Riverside Polytechnic",
    "Summit Language Centre",
    "Eastgate School of Design",
    "Meadowbrook Health Sciences",
)
_SUBJECTS = (
    "Algebra I",
    "Introduction to Programming",
    "Organic Chemistry",
    "World History",
    "Academic Writing",
    "Statistics for Data Science",
    "Microeconomics",
    "Human Anatomy",
    "Spanish for Beginners",
    "Digital Marketing",
    "Linear Algebra",
    "Web Development",
    "Financial Accounting",
    "Environmental Science",
    "Project Management",
    "Graphic Design Basics",
    "Discrete Mathematics",
    "Public Speaking",
    "Cloud Computing",
    "Nutrition and Health",
    "Music Theory",
    "Machine Learning Fundamentals",
    "Business Law",
    "Creative Writing",
)
_PAGE_TYPES = (("page", 0.6), ("document", 0.25), ("forum", 0.15))


@dataclass(frozen=True, slots=True)
class Video:
    video_id: int
    seconds: int


@dataclass(frozen=True, slots=True)
class Assessment:
    assessment_id: int
    kind: str
    """``quiz`` or ``assignment``."""
    max_score: int
    passing: float | None


@dataclass(frozen=True, slots=True)
class Unit:
    """One step of a course's syllabus: a page to read, a video to watch or an assessment to take."""

    kind: str
    """``page``, ``video`` or ``assessment``."""
    content_id: int
    content_type: str
    released_at: float
    video: Video | None = None
    assessment: Assessment | None = None


@dataclass(slots=True)
class Course:
    course_id: int
    institute_id: int
    title: str
    teacher_ids: tuple[int, ...]
    videos: list[Video]
    assessments: list[Assessment]
    units: list[Unit]
    opens_at: float
    published_at: float | None
    popularity: float
    launched_in_term: bool = False
    bonus: Video | None = None
    """A video added by a mid-term update (listed only from that version on)."""
    updated_at: float | None = None


@dataclass(slots=True)
class Person:
    user_type: str
    user_id: int
    institute_id: int
    signed_up_at: float
    device: str
    diligence: float
    """Relative activity (1 = typical); heavy and light users."""
    ability: float
    """Expected share of an assessment's points, 0–1."""
    deleted_at: float | None = None


@dataclass(slots=True)
class Catalog:
    tenant_id: str
    sync_at: float
    term_start: float
    term_end: float
    institutes: list[tuple[int, str]]
    courses: list[Course]
    teachers: list[Person]
    admins: list[Person]
    students: list[Person]
    ids: Ids
    by_institute: dict[int, list[Course]] = field(default_factory=dict)


def weighted(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([name for name, _ in choices], [weight for _, weight in choices])[0]


def _syllabus(
    rng: random.Random,
    videos: list[Video],
    assessments: list[Assessment],
    pages: list[tuple[int, str]],
    opens_at: float,
    closes_at: float,
) -> list[Unit]:
    """Modules of pages, videos and assessments, module ``m`` of ``n`` released at ``m / n`` of the span."""
    modules = len(videos)
    units: list[Unit] = []
    quizzes = [a for a in assessments if a.kind == "quiz"]
    assignments = [a for a in assessments if a.kind == "assignment"]
    for module in range(modules):
        released = ms(opens_at + (closes_at - opens_at) * module / modules)
        for content_id, content_type in pages[module::modules]:
            units.append(Unit("page", content_id, content_type, released))
        units.append(Unit("video", videos[module].video_id, "video", released, video=videos[module]))
        for group in (quizzes, assignments):
            for index, assessment in enumerate(group):
                # spread each kind over the modules: the k-th of n after module (k + 1) * modules / n - 1
                if (index + 1) * modules // len(group) - 1 == module:
                    units.append(
                        Unit(
                            "assessment",
                            assessment.assessment_id,
                            assessment.kind,
                            released,
                            assessment=assessment,
                        )
                    )
    return units


class Ids:
    """Per-tenant id counters, each kind in its own range (students and teachers both count from 1: they
    are different tables in the seed, so ``student:3`` and ``teacher:3`` are two people)."""

    def __init__(self) -> None:
        self.next = {"course": 101, "video": 5001, "assessment": 9001, "content": 20001, "attempt": 700001}

    def take(self, kind: str) -> int:
        value = self.next[kind]
        self.next[kind] = value + 1
        return value


def build_catalog(
    rng: random.Random,
    tenant_id: str,
    *,
    term_start: float,
    term_end: float,
    institutes: int,
    courses: int,
    teachers: int,
    students: int,
    admins: int = 2,
    with_draft: bool = False,
) -> Catalog:
    """The tenant's entities; ``with_draft``: one course is never published (a draft nobody enrolls in)."""
    sync_at = ms(term_start - SYNC_LEAD_DAYS * DAY_S + 10 * HOUR_S)
    span = term_end - term_start
    days = round(span / DAY_S)  # dates below are shares of the term, so a short term works alike
    ids = Ids()
    names = [
        _INSTITUTE_NAMES[(index + len(tenant_id)) % len(_INSTITUTE_NAMES)] for index in range(institutes)
    ]
    institute_list = [(number, name) for number, name in enumerate(names, start=1)]
    institute_ids = [number for number, _ in institute_list]

    def person(user_type: str, user_id: int, signed_up_at: float) -> Person:
        return Person(
            user_type,
            user_id,
            institute_ids[(user_id - 1) % institutes]
            if user_type != "student"
            else rng.choice(institute_ids),
            ms(signed_up_at),
            weighted(rng, DEVICES),
            min(4.0, rng.lognormvariate(0.0, 0.55)),
            rng.betavariate(5, 2),
        )

    teacher_list = [
        person("teacher", n, sync_at - rng.uniform(200, 2000) * DAY_S) for n in range(1, teachers + 1)
    ]
    admin_list = [person("admin", n, sync_at - rng.uniform(300, 2500) * DAY_S) for n in range(1, admins + 1)]
    new_from = students - round(students * NEW_STUDENT_SHARE)
    student_list = [
        person(
            "student",
            n,
            sync_at - rng.uniform(1, 1100) * DAY_S
            if n <= new_from
            else term_start + rng.randrange(max(1, days // 5)) * DAY_S + rng.uniform(8, 22) * HOUR_S,
        )
        for n in range(1, students + 1)
    ]
    for student in rng.sample(student_list, max(1, students // 100)):
        closed = ms(term_end - rng.uniform(0.03, 0.11) * span)
        if closed > student.signed_up_at + DAY_S:
            student.deleted_at = closed

    course_list: list[Course] = []
    for index in range(courses):
        institute_id = institute_ids[index % institutes]
        own = [t.user_id for t in teacher_list if t.institute_id == institute_id] or [
            t.user_id for t in teacher_list
        ]
        lead = own[(index // institutes) % len(own)]
        others = [t for t in own if t != lead]
        teacher_ids = (lead, rng.choice(others)) if others and rng.random() < 0.3 else (lead,)
        launched_in_term = courses >= 3 and index == courses - 1
        launch_day = rng.randint(max(1, round(0.13 * days)), max(1, days // 5))
        opens_at = term_start + (launch_day * DAY_S + 9 * HOUR_S if launched_in_term else 0.0)
        videos = [
            Video(ids.take("video"), int(min(2700, max(120, rng.lognormvariate(math.log(540), 0.5)))))
            for _ in range(rng.randint(4, 8))
        ]
        quizzes = [
            Assessment(
                ids.take("assessment"),
                "quiz",
                (max_score := rng.choice((10, 20, 25, 50, 100))),
                None if rng.random() < 0.25 else 0.6 * max_score,
            )
            for _ in range(rng.randint(2, 4))
        ]
        assignments = [
            Assessment(ids.take("assessment"), "assignment", 100, None if rng.random() < 0.3 else 50.0)
            for _ in range(rng.randint(1, 3))
        ]
        pages = [(ids.take("content"), weighted(rng, _PAGE_TYPES)) for _ in range(rng.randint(4, 8))]
        title = _SUBJECTS[index % len(_SUBJECTS)] + (
            f" ({index // len(_SUBJECTS) + 1})" if index >= 24 else ""
        )
        draft = with_draft and courses >= 5 and index == courses - 2
        course = Course(
            course_id=ids.take("course"),
            institute_id=institute_id,
            title=title,
            teacher_ids=teacher_ids,
            videos=videos,
            assessments=quizzes + assignments,
            units=_syllabus(rng, videos, quizzes + assignments, pages, opens_at, term_end - 0.15 * span),
            opens_at=ms(opens_at),
            published_at=None
            if draft
            else ms(opens_at if launched_in_term else sync_at - rng.uniform(10, 150) * DAY_S),
            popularity=0.0 if draft else 1.0 / (index + 1) ** 0.6,
            launched_in_term=launched_in_term,
        )
        if index == 0:  # a mid-term update adds a video at the end of the syllabus
            course.updated_at = ms(term_start + rng.uniform(0.27, 0.38) * span)
            course.bonus = Video(ids.take("video"), rng.randint(300, 900))
            course.units.append(
                Unit("video", course.bonus.video_id, "video", course.updated_at, video=course.bonus)
            )
        course_list.append(course)
    catalog = Catalog(
        tenant_id,
        sync_at,
        term_start,
        term_end,
        institute_list,
        course_list,
        teacher_list,
        admin_list,
        student_list,
        ids,
    )
    for course in course_list:
        catalog.by_institute.setdefault(course.institute_id, []).append(course)
    return catalog


def _course_body(feed: Feed, course: Course, at: float, *, title: str, with_bonus: bool) -> dict[str, Any]:
    videos = course.videos + ([course.bonus] if with_bonus and course.bonus is not None else [])
    body: dict[str, Any] = {
        "type": "course",
        "timestamp": feed.time(at),
        "version": version_of(at),
        "course_id": course.course_id,
        "institute_id": course.institute_id,
        "title": title,
        "teacher_ids": list(course.teacher_ids),
        "is_published": course.published_at is not None,
        "videos": [{"video_id": video.video_id, "duration_seconds": video.seconds} for video in videos],
        "assessments": [
            {
                "assessment_id": assessment.assessment_id,
                "assessment_type": assessment.kind,
                "max_score": assessment.max_score,
                **({"passing_score": round(assessment.passing, 2)} if assessment.passing is not None else {}),
            }
            for assessment in course.assessments
        ],
    }
    if course.published_at is not None:
        body["published_at"] = feed.time(course.published_at)
    return body


def _user_body(feed: Feed, person: Person, at: float, *, deleted: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "user",
        "timestamp": feed.time(at),
        "version": version_of(at),
        "user_type": person.user_type,
        "user_id": person.user_id,
        "institute_id": person.institute_id,
        "signed_up_at": feed.time(person.signed_up_at),
    }
    if deleted:
        body["is_deleted"] = True
    return body


def emit_catalog(feed: Feed, catalog: Catalog, rng: random.Random) -> None:
    """Every institute, course and user version, each delivered when a real feed would send it."""
    clock = [catalog.sync_at]

    def sync_time() -> float:  # the sync exports one document per millisecond
        clock[0] = ms(clock[0] + 0.001)
        return clock[0]

    entities = Stream.LMS_ENTITIES
    for institute_id, name in catalog.institutes:
        at = sync_time()
        body = {"type": "institute", "timestamp": feed.time(at), "version": version_of(at)}
        feed.add(entities, {**body, "institute_id": institute_id, "name": name}, at)
    for course in catalog.courses:
        if course.launched_in_term:  # its document reaches analytics two days after its first students
            feed.add(
                entities,
                _course_body(feed, course, course.opens_at, title=course.title, with_bonus=False),
                course.opens_at,
                delay=2 * DAY_S,
            )
        else:
            at = sync_time()
            feed.add(entities, _course_body(feed, course, at, title=course.title, with_bonus=False), at)
        if course.updated_at is not None:  # a video added, then the title corrected: delivered swapped
            added = course.updated_at
            feed.add(
                entities,
                _course_body(feed, course, added, title=course.title, with_bonus=True),
                added,
                delay=DAY_S + 3 * HOUR_S,
            )
            fixed = ms(added + 2 * HOUR_S)
            course.title = f"{course.title} (revised)"
            feed.add(entities, _course_body(feed, course, fixed, title=course.title, with_bonus=True), fixed)
    for person in catalog.teachers + catalog.admins + catalog.students:
        if person.signed_up_at <= catalog.sync_at:
            at = sync_time()
            feed.add(entities, _user_body(feed, person, at), at)
        else:  # a nightly directory sync: the document arrives after the student's first steps
            at = person.signed_up_at
            feed.add(entities, _user_body(feed, person, at), at, delay=rng.uniform(1, 3) * DAY_S)
        if person.deleted_at is not None:
            feed.add(entities, _user_body(feed, person, person.deleted_at, deleted=True), person.deleted_at)
