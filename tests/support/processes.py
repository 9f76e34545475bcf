"""Services a test runs as processes of their own: waiting until one answers, stopping one."""

from __future__ import annotations

import signal
import subprocess
import time

import httpx


def _output(process: subprocess.Popen[bytes]) -> str:
    """The end of what an exited ``process`` wrote to a pipe of ours (nothing when it wrote elsewhere)."""
    stream = process.stdout or process.stderr
    return stream.read().decode(errors="replace")[-3000:] if stream else ""


def wait_answering(
    port: int, process: subprocess.Popen[bytes], path: str = "/healthz", timeout_s: float = 60.0
) -> None:
    """Until ``GET path`` on ``port`` answers 200; fails when ``process`` exits first or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, f"exited early with {process.returncode}: {_output(process)}"
        assert time.monotonic() < deadline, f"port {port} did not answer {path}"
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes], timeout_s: float = 60.0) -> float | None:
    """SIGTERM ``process`` and wait for it to exit: the seconds that took, or ``None`` when it was still
    running after ``timeout_s`` and was killed."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None
    return time.monotonic() - started
