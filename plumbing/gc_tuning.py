"""Garbage-collector settings for the long-running services (``analytics dev``, gateway, query, worker).

CPython's cyclic collector runs a full collection after every ten middle-generation ones, and a full
collection walks every container object in the process: modules, pydantic and FastAPI schemas, chDB's and
the drivers' objects, all alive as long as the process, so under load those collections take a large
share of the event loop's time. Freezing what exists once the service is built takes it out of every
collection, and a larger young threshold makes collections rarer (a request's objects are freed by
reference counting, not by the collector). ADR 0009 has the measurements.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
"""Allocations (net of frees) of container objects between young collections; CPython's default is 700."""


def tune_for_service() -> None:
    """Collect once, freeze the survivors (the service's long-lived objects), raise the young threshold.
    Call it after the app is built, just before serving."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
