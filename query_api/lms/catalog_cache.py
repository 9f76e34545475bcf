"""A short-lived snapshot of each tenant's course catalog for the LMS reads: their access checks (is there
such a course; which courses does this teacher teach; is there such an institute), and what their figures
need of the courses (their assessments for quiz and assignment rates and assessment analytics, their
institute and whether they are published for the institute reads). One read per tenant every ``ttl_s``
instead of one or two per request, each of which cost as much as a figure's read (CHANGELOG, issue 19). A
catalog change (a new course, a teacher assigned or removed, an assessment added) reaches the checks and the
figures within ``ttl_s`` (plus ``stale_s`` and a read, see :class:`CatalogDirectory`); with a TTL, concurrent
requests of a tenant share one read; 0 reads the store for every request."""

from __future__ import annotations

from dataclasses import dataclass

from query_api.cache import ResultCache
from query_api.lms.state import COURSE_ACTIVITY_TABLE, COURSE_ENTRY_COLUMNS, CourseEntry, course_entry
from query_api.store import QueryStore


@dataclass(frozen=True, slots=True)
class CatalogSnapshot:
    known: frozenset[int]
    """courses with a version in the catalog (deleted ones too: their history stays readable) or with
    activity (which may arrive before its course)"""
    teachers: dict[int, frozenset[int]]
    """live course → the teachers it lists now"""
    courses: dict[int, CourseEntry]
    """live course → its current entry (assessments, institute, published), as
    :func:`query_api.lms.state.course_catalog`"""
    institutes: frozenset[int] = frozenset()
    """institutes with a version in the catalog (deleted ones too)"""

    def taught_by(self, teacher: int) -> set[int]:
        return {course for course, listed in self.teachers.items() if teacher in listed}

    def institute_courses(self, institute_id: int) -> list[int] | None:
        """The live courses naming ``institute_id``, by id; ``None`` when the tenant knows no such institute
        (no version of it, and no live course naming it: a course may arrive before its institute)."""
        courses = sorted(c for c, entry in self.courses.items() if entry.institute_id == institute_id)
        return courses if courses or institute_id in self.institutes else None


class CatalogDirectory:
    """Each tenant's :class:`CatalogSnapshot`, read at most once per ``ttl_s``; for ``stale_s`` past that, a
    request gets the snapshot it has while one background read replaces it, so only a tenant's first request
    (or the first after ``ttl_s + stale_s`` without any) waits for the read."""

    def __init__(self, store: QueryStore, ttl_s: float, stale_s: float = 0.0, entries: int = 10_000) -> None:
        self._store = store
        self._snapshots = ResultCache(None, entries, ttl_s, serve_stale_s=stale_s)

    async def snapshot(self, tenant_id: str) -> CatalogSnapshot:
        snapshot: CatalogSnapshot = await self._snapshots.get_or_compute(
            tenant_id, lambda: self._read(tenant_id)
        )
        return snapshot

    async def _read(self, tenant_id: str) -> CatalogSnapshot:
        rows = await self._store.rows(
            f"SELECT 'course', is_deleted, teacher_ids, {COURSE_ENTRY_COLUMNS} FROM lms_courses FINAL "
            "WHERE tenant_id = {tenant:String} UNION ALL SELECT DISTINCT 'active', 1, [], course_id, [], [], "
            f"0, 0, NULL FROM {COURSE_ACTIVITY_TABLE} WHERE tenant_id = {{tenant:String}} UNION ALL "
            "SELECT DISTINCT 'institute', 1, [], institute_id, [], [], 0, 0, NULL FROM lms_institutes "
            "WHERE tenant_id = {tenant:String}",
            {"tenant": tenant_id},
        )
        known: set[int] = set()
        institutes: set[int] = set()
        teachers: dict[int, frozenset[int]] = {}
        courses: dict[int, CourseEntry] = {}
        for kind, deleted, listed, *entry in rows:
            if kind == "institute":
                institutes.add(int(entry[0]))
                continue
            known.add(int(entry[0]))
            if kind == "course" and not deleted:
                teachers[int(entry[0])] = frozenset(int(t) for t in listed)
                courses[int(entry[0])] = course_entry(*entry)
        return CatalogSnapshot(frozenset(known), teachers, courses, frozenset(institutes))
