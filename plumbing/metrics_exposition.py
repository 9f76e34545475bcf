"""Serving Prometheus metrics from one process or from several (prometheus_client's multiprocess mode).

A service that runs several uvicorn worker processes behind one port (the gateway's
``ANALYTICS_GATEWAY_WORKERS``) cannot answer a scrape from one process's counters: the scrape lands on any
of them. :func:`multiprocess_directory` gives the processes a shared directory *before* they start (the
``PROMETHEUS_MULTIPROC_DIR`` they inherit makes prometheus_client keep every value in memory-mapped files
there), and :func:`exposition` then answers from all the processes' files together. A single process
(the default, and ``analytics dev``) answers from its own registry.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest, multiprocess

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def multiprocess_directory() -> Iterator[str]:
    """A fresh directory for the values of the worker processes started inside the block (they inherit
    ``PROMETHEUS_MULTIPROC_DIR``); removed afterwards, so no stale values of an earlier run are summed."""
    directory = tempfile.mkdtemp(prefix="analytics-metrics-")
    previous = os.environ.get(MULTIPROCESS_ENV)
    os.environ[MULTIPROCESS_ENV] = directory
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_ENV, None)
        else:
            os.environ[MULTIPROCESS_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)


def exposition(registry: CollectorRegistry) -> bytes:
    """The text exposition of ``registry``, or of every process's values in multiprocess mode."""
    if os.environ.get(MULTIPROCESS_ENV):
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
        return generate_latest(combined)
    return generate_latest(registry)
