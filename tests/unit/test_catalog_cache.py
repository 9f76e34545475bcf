"""The catalog snapshot of the LMS reads: reused within its TTL, answered past it while one background read
replaces it (with a stale window), one read for concurrent requests of a tenant, read every time at TTL 0,
and a failed read shared by its waiters but not kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from query_api.lms.catalog_cache import CatalogDirectory


class CountingStore:
    """Stands in for the store: answers the catalog rows (kind, deleted, teachers, then a course entry: id,
    assessment ids, their types, institute, published, published at in ms) slowly."""

    def __init__(self, rows: list[tuple[Any, ...]], fail: bool = False) -> None:
        self.answer = rows
        self.reads = 0
        self.fail = fail

    async def rows_of(self) -> list[tuple[Any, ...]]:
        self.reads += 1
        await asyncio.sleep(0.01)
        if self.fail:
            raise ConnectionError("store down")
        return self.answer

    async def rows(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        assert params == {"tenant": "t1"} and "lms_courses FINAL" in sql
        return await self.rows_of()


MARCH_1_MS = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp() * 1000)
ROWS = [
    ("course", 0, [7, 8], 1, [41, 42], ["quiz", "assignment"], 5, 1, MARCH_1_MS),
    ("course", 1, [7], 2, [43], ["quiz"], 5, 1, None),
    ("course", 0, [], 3, [], [], 6, 1, None),
    ("course", 0, [], 4, [], [], 5, 0, None),
    ("active", 1, [], 9, [], [], 0, 0, None),
    ("institute", 1, [], 6, [], [], 0, 0, None),
    ("institute", 1, [], 8, [], [], 0, 0, None),
]


async def test_known_courses_teachers_and_assessments() -> None:
    snapshot = await CatalogDirectory(CountingStore(ROWS), 5).snapshot("t1")  # type: ignore[arg-type]
    assert snapshot.known == {1, 2, 3, 4, 9}  # deleted 2 and activity-only 9 are known
    assert snapshot.taught_by(7) == {1} and snapshot.taught_by(8) == {1} and snapshot.taught_by(5) == set()
    # entries of the live catalog courses only: not deleted 2, not activity-only 9
    assert {c: e.assessments for c, e in snapshot.courses.items()} == {
        1: {41: "quiz", 42: "assignment"},
        3: {},
        4: {},
    }


async def test_institutes_their_live_courses_and_when_those_were_published() -> None:
    snapshot = await CatalogDirectory(CountingStore(ROWS), 5).snapshot("t1")  # type: ignore[arg-type]
    # 5 has no version of its own but live courses naming it; 8 a version and no course; 7 neither
    assert snapshot.institute_courses(5) == [1, 4] and snapshot.institute_courses(6) == [3]
    assert snapshot.institute_courses(8) == [] and snapshot.institute_courses(7) is None
    one, three, four = snapshot.courses[1], snapshot.courses[3], snapshot.courses[4]
    march_1 = datetime(2026, 3, 1, tzinfo=UTC)
    assert not one.published_before(march_1) and one.published_before(march_1 + timedelta(milliseconds=1))
    assert three.published_before(datetime(1971, 1, 1, tzinfo=UTC))  # published, no time given: always
    assert not four.published_before(march_1)  # not published now


async def test_concurrent_requests_share_one_read_and_the_ttl_reuses_it() -> None:
    store = CountingStore(ROWS)
    directory = CatalogDirectory(store, 5)  # type: ignore[arg-type]
    found = await asyncio.gather(*(directory.snapshot("t1") for _ in range(10)))
    assert store.reads == 1 and all(s is found[0] for s in found)
    await directory.snapshot("t1")
    assert store.reads == 1


async def test_ttl_zero_reads_every_time() -> None:
    store = CountingStore(ROWS)
    directory = CatalogDirectory(store, 0)  # type: ignore[arg-type]
    await directory.snapshot("t1")
    await directory.snapshot("t1")
    assert store.reads == 2


async def test_a_failed_read_reaches_its_waiters_and_is_not_kept() -> None:
    store = CountingStore(ROWS, fail=True)
    directory = CatalogDirectory(store, 5)  # type: ignore[arg-type]
    results = await asyncio.gather(*(directory.snapshot("t1") for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results) and store.reads == 1
    store.fail = False
    assert (await directory.snapshot("t1")).known == {1, 2, 3, 4, 9} and store.reads == 2


async def test_past_its_ttl_the_snapshot_is_answered_while_one_background_read_replaces_it() -> None:
    store = CountingStore(ROWS)
    directory = CatalogDirectory(store, 0.05, stale_s=5)  # type: ignore[arg-type]
    first = await directory.snapshot("t1")
    store.answer = [*ROWS, ("course", 0, [5], 10, [], [], 0, 0, None)]  # teacher 5 assigned to a new course
    await asyncio.sleep(0.06)
    during = await asyncio.gather(*(directory.snapshot("t1") for _ in range(5)))
    assert all(s is first for s in during)  # nobody waited for the read
    await asyncio.sleep(0.05)  # the background read (0.01 s) is done
    assert store.reads == 2  # one read for all five
    assert (await directory.snapshot("t1")).taught_by(5) == {10}


async def test_without_a_stale_window_a_request_past_the_ttl_waits_for_the_read() -> None:
    store = CountingStore(ROWS)
    directory = CatalogDirectory(store, 0.05)  # type: ignore[arg-type]
    await directory.snapshot("t1")
    store.answer = [*ROWS, ("course", 0, [5], 10, [], [], 0, 0, None)]
    await asyncio.sleep(0.06)
    assert (await directory.snapshot("t1")).taught_by(5) == {10} and store.reads == 2
