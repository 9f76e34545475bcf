"""``analytics dev --demo`` on a store that holds events says why it adds nothing and how to get the demo;
while the demo loads, the per-request access log is paused; it sends every stream, the learning platform's
entities before its activity."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any, cast

import pytest

from loadgen.demo import (
    ACCESS_LOGGER,
    DEMO_DAYS,
    DEMO_LMS_COURSES,
    DEMO_LMS_STUDENTS,
    DEMO_STREAMS,
    access_log_paused,
    fill_if_empty,
    loadgen_command,
)
from loadgen.options import add_arguments, options_from
from plumbing.storage import Storage
from schemas.topics import Stream
from tests.conftest import free_port


class HoldsEvents:
    """A store answering ``SELECT count() FROM analytics_events`` with ``count``."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.statements: list[str] = []

    async def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        self.statements.append(sql)
        return [(self.count,)]


async def test_a_store_with_events_gets_no_demo_and_the_message_says_why_and_how(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    store = HoldsEvents(3)
    started = time.monotonic()
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing may be posted: it would wait for a server
    await fill_if_empty(cast(Storage, store), nobody, "token", f"chdb://{tmp_path / 'ch'}", "analytics")
    assert time.monotonic() - started < 5
    assert store.statements == ["SELECT count() FROM analytics_events"]
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        f"demo: no demo data added: database analytics at chdb://{tmp_path / 'ch'} already holds 3 events, "
        "and demo data only fills an empty store"
    )
    assert "ANALYTICS_CLICKHOUSE_URL=chdb://./var/demo make run DEMO=1" in lines[0]
    assert f"delete {tmp_path / 'ch'}" in lines[0]


async def test_on_a_server_the_message_proposes_a_fresh_database(capsys: pytest.CaptureFixture[str]) -> None:
    store = HoldsEvents(12_345)
    await fill_if_empty(cast(Storage, store), "http://127.0.0.1:1", "t", "http://ch:8123", "prod")
    out = capsys.readouterr().out
    assert "database prod at http://ch:8123 already holds 12,345 events" in out
    assert "ANALYTICS_CLICKHOUSE_DATABASE=demo" in out and "chdb://" not in out


def test_access_log_lines_are_dropped_only_while_the_demo_loads(caplog: pytest.LogCaptureFixture) -> None:
    access = logging.getLogger(ACCESS_LOGGER)
    caplog.set_level(logging.INFO)
    with access_log_paused():
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "POST", "/analytics/events/batch", "1.1", 200)
        logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1/readyz")
        logging.getLogger("ingest_gateway").warning("still shown")
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/healthz", "1.1", 200)
    shown = [(record.name, record.getMessage()) for record in caplog.records]
    assert shown == [
        ("ingest_gateway", "still shown"),
        (ACCESS_LOGGER, '127.0.0.1:5 - "GET /healthz HTTP/1.1" 200'),
    ]


def test_the_demo_sends_every_stream_once_and_the_platforms_entities_before_its_activity() -> None:
    assert sorted(DEMO_STREAMS) == sorted(Stream)
    assert DEMO_STREAMS.index(Stream.LMS_ENTITIES) < DEMO_STREAMS.index(Stream.LMS_ACTIVITY)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    for stream in DEMO_STREAMS:
        command = loadgen_command("http://127.0.0.1:8000", stream)
        assert command[1:4] == ["-m", "cli.main", "loadgen"]
        run = options_from(parser.parse_args(command[4:]))
        assert run.streams == {stream} and run.seed == 42 and run.history_days == DEMO_DAYS
        if stream.value.startswith("lms_"):
            assert (run.lms_students, run.lms_courses, run.sessions) == (
                DEMO_LMS_STUDENTS,
                DEMO_LMS_COURSES,
                None,
            )
        else:
            assert run.sessions is not None and run.user_prefix == "demo_user_"
