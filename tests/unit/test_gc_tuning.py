"""The services' collector settings: the objects alive at startup are frozen, the young threshold raised."""

import gc
from collections.abc import Iterator

import pytest

from plumbing.gc_tuning import WORKER_YOUNG_THRESHOLD, YOUNG_THRESHOLD, tune_for_service


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_startup_objects_leave_the_collections_and_young_ones_are_collected_less_often(
    restored_gc: None,
) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    long_lived = [{"built": i} for i in range(1000)]
    middle, oldest = gc.get_threshold()[1:]

    tune_for_service()

    assert gc.get_freeze_count() > len(long_lived)
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, oldest)


def test_a_worker_sets_its_own_young_threshold(restored_gc: None) -> None:
    middle, oldest = gc.get_threshold()[1:]
    tune_for_service(WORKER_YOUNG_THRESHOLD)
    assert gc.get_threshold() == (WORKER_YOUNG_THRESHOLD, middle, oldest)
    assert WORKER_YOUNG_THRESHOLD > YOUNG_THRESHOLD
