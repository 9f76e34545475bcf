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

WORKER_YOUNG_THRESHOLD = 1_000_000
"""The stream-processor workers' young threshold. A worker's batches are large (a partition's batch holds
a hundred thousand container objects or more: models, their dicts, rows) and alive until written, so
with :data:`YOUNG_THRESHOLD` every young collection found them all alive and moved them up, and the middle
and full collections walked them again: a fifth of the main thread's time. Reference counting frees a
written batch at once (nets its allocations out), so at this threshold collections run only when a million
container objects more are alive than at the last one, e.g. cyclic garbage of that size (ADR 0009)."""


def tune_for_service(young_threshold: int = YOUNG_THRESHOLD) -> None:
    """Collect once, freeze the survivors (the service's long-lived objects), raise the young threshold.
    Call it after the app is built, just before serving."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, oldest)
