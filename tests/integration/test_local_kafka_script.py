"""`deploy/local/kafka.sh` on its own ports and data folder: up is idempotent, down leaves no process."""

import os
import shutil
import socket
from pathlib import Path

import pytest

from tests.conftest import own_broker, unavailable

pytestmark = pytest.mark.kafka


def test_up_twice_notices_running_broker_and_down_stops_it(tmp_path: Path) -> None:
    if shutil.which("java") is None or shutil.which("mvn") is None:
        unavailable("the local broker needs java and mvn on PATH")
    broker = own_broker(tmp_path)
    port, script = broker.port, broker.script

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
