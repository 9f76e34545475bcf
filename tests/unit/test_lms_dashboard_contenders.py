"""The dashboard's top courses: only contenders get their whole figures, and no course that could rank is
left out (ties at the cut included)."""

from query_api.lms_api.routes.dashboard import contenders


def test_contenders_keep_every_course_tied_at_the_cut() -> None:
    active = {1: 9, 2: 7, 3: 7, 4: 5, 5: 5, 6: 5, 7: 2}
    assert contenders(active, range(1, 9), 4) == [1, 2, 3, 4, 5, 6]  # the 4th has 5: all three with 5 stay
    assert contenders(active, range(1, 9), 1) == [1]
    assert contenders(active, range(1, 9), 3) == [1, 2, 3]


def test_with_fewer_active_courses_than_places_every_course_contends() -> None:
    assert contenders({4: 3}, [4, 2, 9], 5) == [2, 4, 9]  # fewer courses than places: all
    assert contenders({4: 3, 2: 1}, [4, 2, 9, 11, 12, 13], 5) == [2, 4, 9, 11, 12, 13]  # the 5th has 0
    assert contenders({}, [], 5) == []
