"""The learning platform's eight models read from a store that another process wrote (a worker's or
``analytics dev``'s chDB directory), and the same questions answered by the independent oracle
(:mod:`tests.support.lms_oracle`), so tests on other transports than the one-process app can compare them.

A process can host one chDB directory only, so :func:`read_models` runs the readers of ``query_api.lms`` in
a child process (``python -m tests.support.lms_models``) and gets their answers back pickled, types intact
(``Decimal``, ``date``, ``datetime``): every field compares exactly, type included, as in
``tests/integration/test_lms_oracle.py``."""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.support import lms_oracle as oracle

Answers = dict[str, dict[str, Any]]
"""question (model and period) → asked id → the model's fields (``None``: no answer for that id)."""


@dataclass(frozen=True)
class Asked:
    """What to ask of one tenant: which ids, for which local days, ISO weeks (their Mondays), months and
    arbitrary ranges."""

    tenant_id: str
    zone: str
    courses: list[int]
    assessments: list[int]
    people: list[tuple[str, int]]
    video_students: list[int]
    days: list[date]
    weeks: list[date]
    months: list[tuple[int, int]]
    ranges: list[tuple[date, date]]

    def periods(self) -> list[tuple[date, date]]:
        """Every period asked for the period models: the days, weeks, months and ranges."""
        months = [
            (date(y, m, 1), date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1)) for y, m in self.months
        ]
        weeks = [(monday, monday + timedelta(days=6)) for monday in self.weeks]
        return [*((day, day) for day in self.days), *weeks, *months, *self.ranges]


def ids_of(
    bodies: Iterable[dict[str, Any]], people: int = 12, video_students: int = 4
) -> tuple[list[int], list[int], list[tuple[str, int]], list[int]]:
    """Every course and assessment the bodies name, every teacher and admin plus a spread of students
    (``people`` in all), and ``video_students`` students: (courses, assessments, people, video students)."""
    courses: set[int] = set()
    assessments: set[int] = set()
    persons: set[tuple[str, int]] = set()
    for body in bodies:
        if body.get("course_id"):
            courses.add(int(body["course_id"]))
        if body.get("assessment_id"):
            assessments.add(int(body["assessment_id"]))
        assessments.update(int(a["assessment_id"]) for a in body.get("assessments", []))
        if "user_type" in body:
            persons.add((str(body["user_type"]), int(body["user_id"])))
    staff = sorted(p for p in persons if p[0] != "student")
    students = sorted(p for p in persons if p[0] == "student")
    step = max(1, len(students) // max(1, people - len(staff)))
    video_step = max(1, len(students) // video_students)
    return (
        sorted(courses),
        sorted(assessments),
        [*staff, *students[::step]][: max(people, len(staff) + 1)],
        [ident for _, ident in students[::video_step]],
    )


def _fields(model: Any) -> dict[str, Any] | None:
    return None if model is None else dataclasses.asdict(model)


async def _ask(store: Any, asked: Asked) -> Answers:
    """Every question of ``asked`` to the readers of ``query_api.lms``."""
    from query_api import lms

    zone, tenant = ZoneInfo(asked.zone), asked.tenant_id
    people = [lms.Person(kind, ident) for kind, ident in asked.people]
    out: Answers = {}
    for first, last in asked.periods():
        period = lms.LmsPeriod(tenant, zone, first, last)
        courses = await lms.course_analytics(store, period, asked.courses)
        out[f"CourseAnalytics {first}..{last}"] = {str(c): _fields(courses.get(c)) for c in asked.courses}
        users = await lms.user_analytics(store, period, people)
        out[f"UserAnalytics {first}..{last}"] = {p.key: _fields(users.get(p)) for p in people}
        out[f"SystemMetrics {first}..{last}"] = {tenant: _fields(await lms.system_metrics(store, period))}
        tests = await lms.assessment_analytics(store, period, asked.assessments)
        out[f"AssessmentAnalytics {first}..{last}"] = {
            str(a): _fields(tests.get(a)) for a in asked.assessments
        }
        videos = await lms.video_watch_analytics(store, period, asked.video_students)
        out[f"VideoWatchAnalytics {first}..{last}"] = {
            str(s): sorted(
                (dataclasses.asdict(row) for row in videos[s]),
                key=lambda r: (r["start_time"], r["video_id"], r["session_id"]),
            )
            for s in asked.video_students
        }
    for day in asked.days:
        daily = await lms.daily_course_metrics(store, tenant, zone, day, asked.courses)
        out[f"DailyCourseMetrics {day}"] = {str(c): _fields(daily.get(c)) for c in asked.courses}
    for monday in asked.weeks:
        weekly = await lms.weekly_course_metrics(store, tenant, zone, monday, asked.courses)
        out[f"WeeklyCourseMetrics {monday}"] = {str(c): _fields(weekly.get(c)) for c in asked.courses}
    for year, month in asked.months:
        monthly = await lms.monthly_user_metrics(store, tenant, zone, year, month, people)
        out[f"MonthlyUserMetrics {year}-{month}"] = {p.key: _fields(monthly.get(p)) for p in people}
    return out


def oracle_answers(facts: oracle.Facts, asked: Asked) -> Answers:
    """The oracle's answers to the questions of ``asked`` (keys as :func:`read_models` gives them)."""
    out: Answers = {}
    people = {f"{kind}:{ident}": (kind, ident) for kind, ident in asked.people}
    for first, last in asked.periods():
        courses = oracle.course_analytics(facts, asked.courses, first, last)
        out[f"CourseAnalytics {first}..{last}"] = {str(c): courses.get(c) for c in asked.courses}
        users = oracle.user_analytics(facts, asked.people, first, last)
        out[f"UserAnalytics {first}..{last}"] = {key: users.get(p) for key, p in people.items()}
        out[f"SystemMetrics {first}..{last}"] = {asked.tenant_id: oracle.system_metrics(facts, first, last)}
        tests = oracle.assessment_analytics(facts, asked.assessments, first, last)
        out[f"AssessmentAnalytics {first}..{last}"] = {str(a): tests.get(a) for a in asked.assessments}
        videos = oracle.video_watch_rows(facts, asked.video_students, first, last)
        out[f"VideoWatchAnalytics {first}..{last}"] = {str(s): videos[s] for s in asked.video_students}
    for day in asked.days:
        daily = oracle.daily_course_metrics(facts, asked.courses, day)
        out[f"DailyCourseMetrics {day}"] = {str(c): daily.get(c) for c in asked.courses}
    for monday in asked.weeks:
        weekly = oracle.weekly_course_metrics(facts, asked.courses, monday)
        out[f"WeeklyCourseMetrics {monday}"] = {str(c): weekly.get(c) for c in asked.courses}
    for year, month in asked.months:
        monthly = oracle.monthly_user_metrics(facts, asked.people, year, month)
        out[f"MonthlyUserMetrics {year}-{month}"] = {key: monthly.get(p) for key, p in people.items()}
    return out


def _differs(got: Any, want: Any) -> bool:
    """Unequal, or equal across types (``1 == Decimal(1)``): the models' fields must have the oracle's."""
    if isinstance(want, list) and isinstance(got, list):
        return len(got) != len(want) or any(_differs(g, w) for g, w in zip(got, want, strict=True))
    if isinstance(want, dict) and isinstance(got, dict):
        return got.keys() != want.keys() or any(_differs(got[k], want[k]) for k in want)
    return bool(got != want or (want is not None and type(got) is not type(want)))


def differences(got: Answers, want: Answers) -> list[str]:
    """Every answer field that differs from the oracle's, as ``question id.field: got …, oracle …``."""
    found: list[str] = []
    assert got.keys() == want.keys(), sorted(set(got) ^ set(want))
    for question, answers in want.items():
        for key, expected in answers.items():
            actual = got[question].get(key)
            if isinstance(expected, dict) and isinstance(actual, dict) and actual.keys() == expected.keys():
                found.extend(
                    f"{question} {key}.{name}: got {actual[name]!r}, oracle {value!r}"
                    for name, value in expected.items()
                    if _differs(actual[name], value)
                )
            elif _differs(actual, expected):
                found.append(f"{question} {key}: got {actual!r}, oracle {expected!r}")
    return found


def compared(answers: Answers) -> int:
    """How many model objects (or watch rows) the answers hold: a floor against comparing nothing."""
    return sum(
        len(value) if isinstance(value, list) else value is not None
        for by_id in answers.values()
        for value in by_id.values()
    )


def read_models(url: str, database: str, asks: list[Asked]) -> list[Answers]:
    """The readers' answers to each of ``asks``, read in a child process from the store at ``url``."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.lms_models", url, database],
        input=pickle.dumps(asks),
        capture_output=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode(errors="replace")[-3000:])
    answers: list[Answers] = pickle.loads(done.stdout)
    return answers


async def _answer_all(url: str, database: str, asks: list[Asked]) -> list[Answers]:
    from plumbing.clickhouse import open_client
    from query_api.metrics import QueryMetrics
    from query_api.store import QueryStore

    store = QueryStore(lambda: open_client(url, database), QueryMetrics(), pool_size=1)
    try:
        return [await _ask(store, asked) for asked in asks]
    finally:
        await store.close()


def main() -> int:
    url, database = sys.argv[1], sys.argv[2]
    asks: list[Asked] = pickle.loads(sys.stdin.buffer.read())
    answers = asyncio.run(_answer_all(url, database, asks))
    sys.stdout.buffer.write(pickle.dumps(answers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
