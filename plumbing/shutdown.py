"""Bounded shutdown of every service: one deadline from the first SIGTERM/SIGINT, kept by a watchdog.

Contract: once a service received SIGTERM or SIGINT it exits within ``ANALYTICS_SHUTDOWN_TIMEOUT_S``
(default 8 s, so within the 10 s orchestrators usually grant before SIGKILL), whatever its graceful path is
waiting for: a store or broker that does not answer, a retry loop, a driver call stuck in a thread. A second
signal exits at once. The graceful path (stop accepting, answer or drop the requests in flight, flush
producers) runs first and gets fixed shares of the deadline (:data:`GRACE_SHARE`, :data:`FLUSH_SHARE`); the
watchdog, a daemon thread armed by the first signal, ends the process with ``os._exit`` if that path has
not finished by the deadline, naming what it abandons.

Why abandoning is safe: nothing acknowledged lives only in memory. The gateway answers 200 only once Kafka
acknowledged the records (``acks=all``), ``analytics dev`` only once ClickHouse has the rows, and a worker
commits offsets only after the store has the batch (ADR 0004). A request still waiting when the process
ends gets no answer (not acknowledged: the client retries), and a worker batch not yet committed is
delivered again, its intent re-formed, on restart. ``os._exit`` is also the only way past a thread stuck in
a driver call: the interpreter joins ``asyncio.to_thread`` workers at exit, and nothing interrupts them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings

from plumbing.settings import ENV_CONFIG

log = logging.getLogger(__name__)

HANDLED = (signal.SIGTERM, signal.SIGINT)
GRACE_SHARE = 0.5
"""Of the deadline: how long requests in flight may take to be answered (uvicorn's graceful shutdown);
those still running then are cancelled, their clients get no answer."""
FLUSH_SHARE = 0.3
"""Of the deadline: how long producers and sinks may take to hand over what is queued. With
:data:`GRACE_SHARE` it leaves a fifth of the deadline for the rest before the watchdog acts."""
DEADLINE_EXIT_CODE = 1
"""Exit status when the watchdog ends the process (the graceful path did not finish in time)."""


class ShutdownSettings(BaseSettings):
    """``ANALYTICS_SHUTDOWN_TIMEOUT_S``, built by the entry point (:func:`plumbing.settings.load_settings`)
    and passed to the watchdog and to the producers and sinks that flush on the way out."""

    model_config = ENV_CONFIG

    shutdown_timeout_s: float = Field(default=8.0, gt=0, le=3600)
    """Seconds from the first SIGTERM/SIGINT until the process exits, graceful or not."""

    @property
    def flush_s(self) -> float:
        """How long a producer or sink may take to hand over what is queued (:data:`FLUSH_SHARE`)."""
        return self.shutdown_timeout_s * FLUSH_SHARE


class ShutdownWatchdog:
    """Arms on the first signal, exits the process at the deadline; a second signal exits at once.

    ``abandons`` says, for the log line of a forced exit, what is left behind and why that is safe."""

    def __init__(self, deadline_s: float, service: str, abandons: str) -> None:
        self.deadline_s = deadline_s
        self.service = service
        self.abandons = abandons
        self._lock = threading.Lock()
        self._armed_at: float | None = None

    @classmethod
    def from_settings(cls, settings: ShutdownSettings, service: str, abandons: str) -> ShutdownWatchdog:
        return cls(settings.shutdown_timeout_s, service, abandons)

    def share(self, fraction: float) -> float:
        """Seconds of the deadline for one step of the graceful path."""
        return self.deadline_s * fraction

    def on_signal(self, signum: int) -> None:
        """Call from the service's own handler of SIGTERM/SIGINT, before it starts its graceful path."""
        name = signal.Signals(signum).name
        with self._lock:
            if self._armed_at is None:
                self._armed_at = time.monotonic()
                log.info("%s: %s received; exiting within %g s", self.service, name, self.deadline_s)
                threading.Thread(target=self._expire, name="shutdown-watchdog", daemon=True).start()
                return
        log.warning("%s: second %s; exiting now, abandoning %s", self.service, name, self.abandons)
        exit_now(128 + signum)

    def _expire(self) -> None:
        time.sleep(self.deadline_s)
        busy = sorted(
            t.name for t in threading.enumerate() if t is not threading.current_thread() and t.is_alive()
        )
        log.error(
            "%s: graceful shutdown did not finish within %g s (ANALYTICS_SHUTDOWN_TIMEOUT_S); exiting "
            "now, abandoning %s (threads still running: %s)",
            self.service,
            self.deadline_s,
            self.abandons,
            ", ".join(busy) or "none",
        )
        exit_now(DEADLINE_EXIT_CODE)

    def chain_signals(self) -> None:
        """Put :meth:`on_signal` in front of the Python-level handlers now installed for SIGTERM/SIGINT.

        For servers whose handlers cannot be subclassed (a uvicorn worker process, whose server uvicorn
        builds): call it once they are installed. It also fronts asyncio's ``add_signal_handler`` (whose
        Python-level handler does nothing; the loop learns of the signal through its wakeup fd)."""
        for sig in HANDLED:
            previous = signal.getsignal(sig)
            signal.signal(sig, _front(self, previous))


def _front(watchdog: ShutdownWatchdog, previous: Any) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        if previous == signal.SIG_IGN:
            return
        watchdog.on_signal(signum)
        if callable(previous):
            previous(signum, frame)
        else:  # SIG_DFL: the process would have ended here
            exit_now(128 + signum)

    return handler


def exit_now(code: int) -> None:
    """Flush the log and standard streams, then end the process without unwinding (no thread joins, no
    atexit hooks: what they would wait for is what the deadline gave up on)."""
    for flushable in (*logging.getLogger().handlers, sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # exiting regardless
            flushable.flush()
    os._exit(code)
