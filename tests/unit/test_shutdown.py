"""The shutdown watchdog (a process whose graceful path hangs still exits by its deadline; a second signal
exits at once) and the 503 answer of requests cancelled by uvicorn's bounded graceful shutdown."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from plumbing.serving import AnswerWhenCancelled
from plumbing.shutdown import ShutdownSettings

HANGING = """
import logging, signal, sys, threading, time
from plumbing.shutdown import ShutdownWatchdog
logging.basicConfig(level="INFO")
watchdog = ShutdownWatchdog(float(sys.argv[1]), "hanging service", "the test's work")
signal.signal(signal.SIGTERM, lambda signum, frame: None)  # a graceful path that never finishes
watchdog.chain_signals()
threading.Thread(target=time.sleep, args=(120,), name="stuck-driver-call").start()  # joined at exit
print("ready", flush=True)
time.sleep(120)
"""


def start_hanging(deadline_s: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HANGING, str(deadline_s)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def test_a_hanging_graceful_path_ends_at_the_deadline_naming_what_it_abandons() -> None:
    process = start_hanging(1.0)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    elapsed = time.monotonic() - started
    assert process.returncode == 1
    assert 1.0 <= elapsed < 4.0, elapsed
    assert "hanging service: graceful shutdown did not finish within 1 s" in stderr
    assert "abandoning the test's work" in stderr and "stuck-driver-call" in stderr


def test_a_second_signal_exits_at_once() -> None:
    process = start_hanging(60.0)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 128 + signal.SIGINT
    assert time.monotonic() - started < 3.0
    assert "second SIGINT; exiting now" in stderr


def test_the_deadline_is_a_positive_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ShutdownSettings().shutdown_timeout_s == 8.0
    monkeypatch.setenv("ANALYTICS_SHUTDOWN_TIMEOUT_S", "2.5")
    assert ShutdownSettings().shutdown_timeout_s == 2.5
    monkeypatch.setenv("ANALYTICS_SHUTDOWN_TIMEOUT_S", "0")
    with pytest.raises(ValidationError):
        ShutdownSettings()


async def call_cancelled(app: Any) -> tuple[list[dict[str, Any]], BaseException | None]:
    """Run ``app`` for one HTTP request, cancel it while it runs; what it sent and what it raised."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if sent and sent[-1]["type"] == "http.response.body" and message["type"] == "http.response.start":
            raise RuntimeError("response already completed")  # what uvicorn raises
        sent.append(message)

    task = asyncio.create_task(AnswerWhenCancelled(app)({"type": "http"}, receive, send))
    await asyncio.sleep(0.05)
    task.cancel()
    try:
        await task
    except BaseException as exc:  # noqa: BLE001 - the outcome is what we check
        return sent, exc
    return sent, None


async def test_a_request_cancelled_before_answering_gets_the_503_envelope() -> None:
    async def waits_for_the_store(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(60)

    sent, raised = await call_cancelled(waits_for_the_store)
    assert raised is None
    assert sent[0]["status"] == 503
    assert dict(sent[0]["headers"])[b"retry-after"] == b"5"
    body = orjson.loads(sent[1]["body"])
    assert body["success"] is False
    assert body["error"]["code"] == "SERVICE_UNAVAILABLE" and body["error"]["details"] == []


async def test_a_request_that_had_answered_is_left_to_its_cancellation() -> None:
    async def answered_then_waits(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})
        await asyncio.sleep(60)

    sent, raised = await call_cancelled(answered_then_waits)
    assert isinstance(raised, asyncio.CancelledError)
    assert [message.get("status") for message in sent] == [200, None]
