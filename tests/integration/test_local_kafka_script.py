"""`deploy/local/kafka.sh` on its own ports and data folder: up is idempotent, down leaves no process."""

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import KAFKA_SCRIPT, unavailable

pytestmark = pytest.mark.kafka


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_up_twice_notices_running_broker_and_down_stops_it(tmp_path: Path) -> None:
    if shutil.which("java") is None or shutil.which("mvn") is None:
        unavailable("the local broker needs java and mvn on PATH")
    port, controller = free_port(), free_port()
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller),
        "ANALYTICS_KAFKA_VAR": str(tmp_path / "kafka"),
        "KAFKA_HEAP": "384m",
    }

    def script(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KAFKA_SCRIPT), command], env=env, capture_output=True, text=True, timeout=180
        )

    try:
        first = script("up")
        assert first.returncode == 0, first.stderr
        assert first.stdout.strip() == f"127.0.0.1:{port}"
        pid = int((tmp_path / "kafka" / "kafka.pid").read_text())
        second = script("up")
        assert second.returncode == 0
        assert "already running" in second.stderr
        assert script("status").returncode == 0
    finally:
        down = script("down")
    assert down.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert script("status").returncode == 1
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
