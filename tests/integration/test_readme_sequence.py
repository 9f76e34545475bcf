"""The README's distributed sequence, run as written: its fenced block is parsed and every line run as a
subprocess (migrate, topics, gateway, worker, token, loadgen, lag, query), so the README cannot drift
from what works. Then the dashboards read through the query API count exactly the events the load
generator reports accepted.

What the test changes, and only this: its own broker, topic prefix, consumer-group prefix, ports and
temporary chDB directory (environment and the ``8000``/``8001`` of URLs), a small ``--events``, and
``--json`` for the load generator's summary. ``make kafka-up`` is the broker the ``kafka`` fixture gives;
``curl`` lines are made with httpx, retried only when the line asks for it (``--retry``).
The secret and the loadgen token are *not* provided: the block's own ``export`` lines must set them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]
README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## The distributed pipeline"
EVENTS = 400
SUBSTITUTION = re.compile(r"\$\(([^()]*)\)")


def readme_block() -> list[str]:
    """The lines of the first ``sh`` block of the section, continuation lines joined, comments kept."""
    section = README.read_text().split(SECTION, 1)[1]
    block = section.split("```sh\n", 1)[1].split("\n```", 1)[0]
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


@dataclass
class Shell:
    """Runs the README's lines the way a shell would, for the few forms the block uses."""

    env: dict[str, str]
    cwd: Path
    ports: dict[str, str]
    jobs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    header: dict[str, str] = field(default_factory=dict)
    """The header of the block's last ``curl`` (its credential), for the test's own reads."""

    def argv(self, words: list[str]) -> list[str]:
        program, *rest = words
        if program == ".venv/bin/analytics":
            head = [sys.executable, "-m", "cli.main"]
        elif program == ".venv/bin/python":
            head = [sys.executable]
        else:
            head = [program]
        return head + [self.local(self.expand(word)) for word in rest]

    def local(self, word: str) -> str:
        for documented, ours in self.ports.items():
            word = word.replace(f":{documented}", f":{ours}")
        return word

    def expand(self, word: str) -> str:
        return SUBSTITUTION.sub(lambda match: self.capture(match.group(1)), word)

    def capture(self, command: str) -> str:
        done = self.run(self.argv(shlex.split(command)))
        return done.stdout.strip()

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            argv, env=self.env, cwd=self.cwd, capture_output=True, text=True, timeout=180, check=False
        )
        assert done.returncode == 0, f"{shlex.join(argv)} exited {done.returncode}:\n{done.stderr[-3000:]}"
        return done

    def line(self, text: str) -> None:
        if match := re.fullmatch(r"export (\w+)=(\S.*?)(\s+#.*)?", text):
            name, value = match.group(1), match.group(2)
            self.env[name] = self.expand(value)
            return
        words = shlex.split(text, comments=True)
        if words == ["make", "kafka-up"]:  # the kafka fixture's broker is in ANALYTICS_KAFKA_BOOTSTRAP
            return
        if words[0] == "kill":  # "kill %N; wait %N": stop a background job and wait for it
            number = int(words[1].rstrip(";").lstrip("%"))
            assert words[2:] == ["wait", f"%{number}"], text
            job = self.jobs[number - 1]
            job.terminate()
            assert job.wait(timeout=60) in (0, -15), f"job {number} exited badly"
            return
        if words[-1] == "&":
            self.jobs.append(
                subprocess.Popen(
                    self.argv(words[:-1]),
                    env=self.env,
                    cwd=self.cwd,
                    stdout=subprocess.DEVNULL,
                    stderr=(self.cwd / f"job{len(self.jobs) + 1}.log").open("wb"),
                )
            )
            return
        if words[0] == "curl":
            self.outputs.append(self.curl(words))
            return
        if words[1:2] == ["loadgen"]:
            words = [
                re.sub(r"^\d+$", str(EVENTS), w) if prev == "--events" else w for prev, w in _pairs(words)
            ]
            words += ["--no-progress", "--json"]
        self.outputs.append(self.run(self.argv(words)).stdout)

    def curl(self, words: list[str]) -> str:
        """``curl -s [--retry ...] URL [-H HEADER]``: a GET, retried on refused connections and 503 only
        when the line asks for it (as curl's ``--retry --retry-connrefused`` does)."""
        url = self.local(next(w for w in words[1:] if w.startswith("http")))
        if "-H" in words:
            name, _, value = self.expand(words[words.index("-H") + 1]).partition(": ")
            self.header = {name: value}
        return self.get(url, headers=self.header if "-H" in words else {}, retry="--retry" in words)

    def get(self, url: str, headers: dict[str, str] | None = None, retry: bool = True) -> str:
        deadline = time.monotonic() + (60 if retry else 0)
        while True:
            try:
                response = httpx.get(url, headers=self.header if headers is None else headers, timeout=30)
                if response.status_code != 503:
                    break
            except httpx.TransportError:
                if not retry:
                    raise
            assert all(job.poll() is None for job in self.jobs[-1:]), self.log(len(self.jobs))
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.3)
        assert response.status_code == 200, response.text
        return response.text

    def log(self, number: int) -> str:
        return (self.cwd / f"job{number}.log").read_text()[-3000:]

    def stop(self) -> None:
        for job in self.jobs:
            if job.poll() is None:
                job.terminate()
        for job in self.jobs:
            try:
                job.wait(timeout=30)
            except subprocess.TimeoutExpired:
                job.kill()
                job.wait()


def _pairs(words: list[str]) -> Iterator[tuple[str, str]]:
    return zip(["", *words[:-1]], words, strict=True)


def test_the_readme_sequence_serves_what_the_load_generator_sent(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    lines = readme_block()
    programs = [shlex.split(line, comments=True)[:2] for line in lines if not line.startswith("export")]
    for step in ("migrate", "topics", "gateway", "worker", "loadgen", "lag", "query"):  # complete
        assert [".venv/bin/analytics", step] in programs, step
    tag = uuid.uuid4().hex[:8]
    gateway_port, query_port = str(free_port()), str(free_port())
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("ANALYTICS_AUTH_JWT_SECRET", "ANALYTICS_LOADGEN_TOKEN")  # the block sets them
    }
    env |= {
        "ANALYTICS_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "ANALYTICS_TOPIC_PREFIX": f"readme-{tag}.",
        "ANALYTICS_WORKER_GROUP_PREFIX": f"readme-{tag}-",
        "ANALYTICS_WORKER_METRICS_PORT": "0",
        "ANALYTICS_CLICKHOUSE_URL": f"chdb://{tmp_path / 'clickhouse'}",
        "ANALYTICS_GATEWAY_PORT": gateway_port,
        "ANALYTICS_QUERY_PORT": query_port,
        "ANALYTICS_LOG_LEVEL": "WARNING",
    }
    shell = Shell(env, tmp_path, {"8000": gateway_port, "8001": query_port})
    base = f"http://127.0.0.1:{query_port}/analytics/dashboard"
    try:
        for text in lines:
            shell.line(text)
        dashboards = {  # every user's: the last 24 hours are read from raw rows, 7 days from rollups
            period: [json.loads(shell.get(f"{base}/user_{n}?time_period={period}")) for n in range(1, 11)]
            for period in ("last_24_hours", "last_7_days")
        }
    finally:
        shell.stop()

    summary = json.loads(next(o for o in shell.outputs if o.startswith("{") and '"accepted"' in o))
    assert summary["ok"] and summary["sent"] == summary["accepted"] == EVENTS, summary
    first = json.loads(shell.outputs[-1])  # the block's own curl: user_1's dashboard
    assert first["success"] and first["data"]["user_id"] == "user_1"
    accepted_events = summary["streams"]["events"]["accepted"]
    product = sum(
        summary["streams"][name]["accepted"] for name in ("events", "performance", "usage", "activities")
    )
    # product and learning-platform items alternate; of the product's, most are events (the rest: vitals,
    # usage, activities)
    assert accepted_events > product // 2 and product < EVENTS
    for period, answers in dashboards.items():
        assert sum(answer["data"]["overview"]["total_events"] for answer in answers) == accepted_events, (
            period
        )
