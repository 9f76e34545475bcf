"""What every benchmark needs: free ports, waiting for a service, and writing a result file."""

from __future__ import annotations

import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from security.tokens import mint_token

RESULTS = Path(__file__).resolve().parent / "results"
_SECRET = secrets.token_urlsafe(48)
"""This run's HS256 secret: the services under test verify the benchmark's tokens with it."""


def bench_token(
    roles: tuple[str, ...] = ("service",), tenant: str = "default", subject: str = "bench"
) -> str:
    return mint_token(_SECRET, subject, tenant, roles, ttl_s=24 * 3600)


def auth_env() -> dict[str, str]:
    """Environment of services and load processes: the run's secret, a service token for load
    generators, and no rate limits (a benchmark measures capacity, not the limits)."""
    return {
        "ANALYTICS_AUTH_JWT_SECRET": _SECRET,
        "ANALYTICS_LOADGEN_TOKEN": bench_token(),
        "ANALYTICS_RATE_LIMITS_ENABLED": "false",
    }


def auth_headers() -> dict[str, str]:
    """Headers of a load process started with :func:`auth_env` (reads the token it was given)."""
    return {"authorization": f"Bearer {os.environ.get('ANALYTICS_LOADGEN_TOKEN') or bench_token()}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"service not ready at {url}")


def save_result(benchmark: str, result: dict[str, Any]) -> Path:
    """Stamp ``result`` with the benchmark name, time and machine; write and print it; return the path."""
    now = datetime.now(UTC)
    result = {
        "benchmark": benchmark,
        "measured_at": now.isoformat(timespec="seconds"),
        **result,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{benchmark}-{now.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {path}")
    return path


@contextmanager
def query_server(url: str, folder: str) -> Iterator[str]:
    """``analytics query`` on the store ``url`` (result cache off, so every request runs its statements,
    with the run's secret), ready; yields its base URL and stops it after."""
    port = free_port()
    env = {
        **os.environ,
        "ANALYTICS_CLICKHOUSE_URL": url,
        "ANALYTICS_QUERY_CACHE_TTL_S": "0",
        "ANALYTICS_LOG_LEVEL": "WARNING",
        **auth_env(),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "query", "--port", str(port)],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=60)
