"""The log lines of :mod:`plumbing.logs`: one JSON object per line (or a console line for people), the
``%``-style calls and ``extra`` fields of stdlib logging, the request id bound by the middleware and sent on
as a Kafka header, and nothing secret or personal in any line."""

from __future__ import annotations

import io
import json
import logging
import os
import pty
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ingest_gateway.intake import message_headers
from plumbing.logs import (
    ACCESS_LOGGER,
    IP_MASK,
    REDACTED,
    configure_logging,
    current_request_id,
    faust_logging_config,
    make_formatter,
    mask,
    request_context,
)
from plumbing.middleware import RequestContextMiddleware
from schemas.topics import Stream
from schemas.transport import HEADER_REQUEST_ID, Record
from security.api_keys import new_key
from tests.support.examples import example
from tests.support.gateway import RecordingSink, gateway_client

ROOT = Path(__file__).resolve().parents[2]
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiIsInRlbmFudF9pZCI6ImRlZmF1bHQifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
IPV4 = "203.0.113.9"
IPV6 = "2001:db8:85a3::8a2e:370:7334"


class Lines:
    """What a handler with our formatter wrote, line by line."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def text(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def records(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.text()]


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, Lines]]:
    """A logger of the test's own (not propagating) whose lines are JSON, as a service's are."""
    lines = Lines()
    handler = logging.StreamHandler(lines.stream)
    handler.setFormatter(make_formatter(json_lines=True))
    logger = logging.getLogger(f"tests.logs.{id(lines)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield logger, lines
    logger.removeHandler(handler)


@pytest.fixture
def root_lines() -> Iterator[Lines]:
    """The root logger's lines, JSON, at INFO (restored afterwards): what a service process writes."""
    lines = Lines()
    handler = logging.StreamHandler(lines.stream)
    handler.setFormatter(make_formatter(json_lines=True))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lines
    root.removeHandler(handler)
    root.setLevel(level)


def test_a_line_is_one_json_object_with_the_formatted_message_and_the_fixed_keys(
    captured: tuple[logging.Logger, Lines],
) -> None:
    logger, lines = captured
    logger.info("stored %d events of %s in %.1f s", 12, "events", 0.25)
    (record,) = lines.records()
    assert list(record)[:4] == ["timestamp", "level", "logger", "event"]
    assert record["event"] == "stored 12 events of events in 0.2 s"
    assert record["level"] == "info" and record["logger"] == logger.name
    assert isinstance(record["timestamp"], str) and record["timestamp"].endswith("Z")


def test_extra_fields_become_keys_and_an_exception_is_text(captured: tuple[logging.Logger, Lines]) -> None:
    logger, lines = captured
    logger.debug(
        "batch stored",
        extra={"stream": "events", "partition": 2, "first_offset": 7, "request_ids": ["r1", "r2"]},
    )
    try:
        raise ValueError("the store refused it")
    except ValueError:
        logger.exception("insert failed")
    stored, failed = lines.records()
    assert stored["event"] == "batch stored" and stored["level"] == "debug"
    assert (stored["stream"], stored["partition"], stored["first_offset"]) == ("events", 2, 7)
    assert stored["request_ids"] == ["r1", "r2"]
    assert failed["level"] == "error"
    assert isinstance(failed["exception"], str)
    assert "Traceback" in failed["exception"] and "ValueError: the store refused it" in failed["exception"]


def test_a_bound_request_id_is_on_every_line_of_the_block_and_gone_after(
    captured: tuple[logging.Logger, Lines],
) -> None:
    logger, lines = captured
    with request_context("req-abc"):
        assert current_request_id() == "req-abc"
        logger.info("inside")
    logger.info("outside")
    inside, outside = lines.records()
    assert inside["request_id"] == "req-abc"
    assert "request_id" not in outside
    assert current_request_id() is None


def test_console_lines_are_for_people_not_json() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(make_formatter(json_lines=False))
    logger = logging.getLogger("tests.logs.console")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning("retrying in %d s", 3, extra={"attempt": 2})
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue().splitlines()[0]
    with pytest.raises(ValueError):
        json.loads(line)
    assert "retrying in 3 s" in line and "attempt=2" in line and "warning" in line
    assert "\x1b[" not in line  # no colours off a terminal


def test_redaction_masks_credentials_keys_and_addresses_in_the_message_and_in_extras(
    captured: tuple[logging.Logger, Lines],
) -> None:
    logger, lines = captured
    key = new_key()
    logger.warning(
        "refused Authorization: Bearer %s and X-API-Key %s from %s and [%s]:443",
        JWT,
        key.plaintext(),
        IPV4,
        IPV6,
        extra={
            "header": f"Bearer {JWT}",
            "presented": key.plaintext(),
            "peers": [IPV4, {"address": IPV6}],
            "authorization": "Basic dXNlcjpwYXNz",
            "api_key": "anything-at-all",
            "password": "hunter2",
            "client_ip": "not even an address",
            "url": "http://default:s3cret@clickhouse:8123/?database=analytics",
        },
    )
    (line,) = lines.text()
    for secret in (JWT, key.secret, IPV4, IPV6, "dXNlcjpwYXNz", "anything-at-all", "hunter2", "s3cret"):
        assert secret not in line
    assert "not even an address" not in line
    (record,) = lines.records()
    assert record["event"] == (
        f"refused Authorization: Bearer {REDACTED} and X-API-Key ak_{key.key_id}_{REDACTED} "
        f"from {IP_MASK} and [{IP_MASK}]:443"
    )
    assert record["header"] == f"Bearer {REDACTED}"
    assert record["presented"] == f"ak_{key.key_id}_{REDACTED}"  # the key id names the key: kept
    assert record["peers"] == [IP_MASK, {"address": IP_MASK}]
    for name in ("authorization", "api_key", "password", "client_ip"):
        assert record[name] == REDACTED
    assert record["url"] == f"http://{REDACTED}@clickhouse:8123/?database=analytics"


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-02T03:04:05.678Z took 12:34:56",
        "offsets 0..41 of partition 3, version 1.2.3",
        "req_0123456789abcdef0123456789abcdef",
        "tenant acme: zone Europe/Berlin (+01:00)",
        "TopicPartition(topic='analytics.events', partition=2)",
    ],
)
def test_masking_leaves_times_versions_and_ids_alone(text: str) -> None:
    assert mask(text) == text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("from ::1.", f"from {IP_MASK}."),
        ("peer ::ffff:192.0.2.1 closed", f"peer {IP_MASK} closed"),
        ("bootstrap 10.0.0.5:9092,10.0.0.6:9092", f"bootstrap {IP_MASK}:9092,{IP_MASK}:9092"),
        ("GET /x?token=abc123&page=2", f"GET /x?token={REDACTED}&page=2"),
        ("bearer abc.def", f"bearer {REDACTED}"),
    ],
)
def test_masking_finds_addresses_and_tokens_in_any_text(text: str, masked: str) -> None:
    assert mask(text) == masked


class _Metrics:
    def __init__(self) -> None:
        registry = CollectorRegistry()
        self.requests = Counter("t_requests", "", ["route", "status"], registry=registry)
        self.request_latency = Histogram("t_latency", "", ["route"], registry=registry)
        self.in_flight = Gauge("t_in_flight", "", registry=registry)


async def test_the_middleware_binds_the_request_id_to_every_line_and_logs_one_access_line(
    root_lines: Lines,
) -> None:
    async def handler(request: Request) -> PlainTextResponse:
        logging.getLogger("tests.logs.route").info("working for %s", request.path_params["user"])
        return PlainTextResponse("ok")

    app = RequestContextMiddleware(Starlette(routes=[Route("/users/{user}", handler)]), _Metrics())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get(
            "/users/u42", headers={"x-request-id": "req-mw-1", "x-forwarded-for": IPV4}
        )
    assert response.headers["x-request-id"] == "req-mw-1"
    assert current_request_id() is None
    records = root_lines.records()
    work = next(r for r in records if r["logger"] == "tests.logs.route")
    access = next(r for r in records if r["logger"] == ACCESS_LOGGER)
    assert work["request_id"] == access["request_id"] == "req-mw-1"
    assert (access["method"], access["route"], access["status"]) == ("GET", "/users/{user}", 200)
    assert isinstance(access["duration_ms"], float)
    assert "u42" not in json.dumps(access)  # the route's template, not the path as sent
    assert all(IPV4 not in line and "127.0.0.1" not in line for line in root_lines.text())


class HeaderSink(RecordingSink):
    """Keeps the headers of each publish as well."""

    def __init__(self) -> None:
        super().__init__(partitions=3)
        self.headers: list[list[tuple[str, bytes]]] = []

    async def publish(self, topic: str, records: Sequence[Record], headers: list[tuple[str, bytes]]) -> None:
        self.headers.append(list(headers))
        await super().publish(topic, records, headers)


async def test_every_message_of_a_request_carries_its_id_as_a_header(root_lines: Lines) -> None:
    sink = HeaderSink()
    events = [dict(example_event(), user_id=f"u{i}") for i in range(12)]  # over several partitions
    async with gateway_client(sink) as http:
        response = await http.post(
            "/analytics/events/batch", json={"events": events}, headers={"x-request-id": "req-kafka-7"}
        )
        assert response.status_code == 200, response.text
        unnamed = await http.post("/analytics/events", json=example_event())
        assert unnamed.status_code == 200, unnamed.text
    assert len({partition for _, partition, _, _ in sink.records}) > 1
    named, generated = sink.headers
    assert dict(named)[HEADER_REQUEST_ID] == b"req-kafka-7"
    assert dict(generated)[HEADER_REQUEST_ID].decode() == unnamed.headers["x-request-id"]
    assert any(r.get("request_id") == "req-kafka-7" for r in root_lines.records())


def example_event() -> dict[str, Any]:
    body: dict[str, Any] = example(Stream.EVENTS, "valid_minimal_page_view.json")
    return body


def test_message_headers_name_the_schema_version_and_the_request() -> None:
    assert [name for name, _ in message_headers(None)] == ["schema_version"]
    assert dict(message_headers("r-1"))[HEADER_REQUEST_ID] == b"r-1"


PROCESS = textwrap.dedent(
    """
    import logging, sys, warnings
    from plumbing.logs import configure_logging
    configure_logging("INFO", sys.argv[1])
    logging.getLogger("uvicorn.error").info("Uvicorn running on %s", "http://127.0.0.1:8000")
    logging.getLogger("aiokafka.conn").debug("not shown: libraries stay at INFO")
    logging.getLogger("ingest_gateway.sink").warning("Kafka producer cannot connect yet (%s)", "boom")
    warnings.warn("a warning, through logging")
    """
)


def _run(log_format: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROCESS, log_format],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout == ""
    return done.stderr.splitlines()


def test_configure_logging_turns_every_logger_of_a_process_into_json_lines_off_a_terminal() -> None:
    lines = _run("auto")  # standard error is a pipe here
    records = [json.loads(line) for line in lines]
    assert [r["logger"] for r in records] == ["uvicorn.error", "ingest_gateway.sink", "py.warnings"]
    assert records[0]["event"] == f"Uvicorn running on http://{IP_MASK}:8000"
    assert records[1]["event"] == "Kafka producer cannot connect yet (boom)"
    assert records[1]["level"] == "warning"


def test_console_lines_on_a_terminal_and_when_asked() -> None:
    assert not any(line.startswith("{") for line in _run("console"))
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-c", PROCESS, "auto"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=follower,
            timeout=60,
            check=True,
        )
        assert done.returncode == 0
        os.close(follower)
        follower = -1
        output = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end closed
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    text = output.decode(errors="replace")
    assert "Kafka producer cannot connect yet (boom)" in text
    assert "\x1b[" in text  # coloured for people
    assert not any(line.lstrip().startswith("{") for line in text.splitlines())


FAUST = textwrap.dedent(
    """
    import logging
    from mode.utils.logging import setup_logging
    from plumbing.logs import faust_logging_config
    # what Faust's worker does when it starts (mode.Worker._setup_logging), given our configuration
    setup_logging(loglevel="info", logging_config=faust_logging_config("INFO", "json"))
    logging.getLogger("faust.worker").info("[^Worker]: Starting...")
    logging.getLogger("stream_processors.pipeline").warning("dead letter", extra={"request_id": "r-9"})
    """
)


def test_faust_applies_our_configuration_when_given_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FAUST], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(r["logger"], r["event"]) for r in records] == [
        ("faust.worker", "[^Worker]: Starting..."),
        ("stream_processors.pipeline", "dead letter"),
    ]
    assert records[1]["request_id"] == "r-9"
    assert isinstance(faust_logging_config(), dict)


def test_a_root_logger_with_handlers_of_someone_else_is_left_alone() -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    foreign = logging.StreamHandler(io.StringIO())
    root.addHandler(foreign)
    try:
        assert configure_logging("DEBUG", "json") is False  # as logging.basicConfig: pytest's stay
        assert root.handlers == [*handlers, foreign] and root.level == level
    finally:
        root.removeHandler(foreign)
