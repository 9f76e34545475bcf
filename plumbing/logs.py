"""Logging of every process: one line per record, JSON for machines or key=value for people, with what is
secret or personal masked.

Every ``logging.getLogger(__name__)`` call of ours (``%``-style arguments, ``extra={...}``) and of the
libraries (uvicorn, aiokafka, faust, mode) goes through the root logger's one handler, whose
:class:`structlog.stdlib.ProcessorFormatter` renders it. A JSON line holds ``timestamp`` (ISO 8601, UTC),
``level``, ``logger``, ``event`` (the formatted message), ``request_id`` while a request is being served
(:func:`request_context`, bound by :mod:`plumbing.middleware`), each ``extra`` field as a key of its own and
``exception`` (the traceback, as text) when there is one. ``ANALYTICS_LOG_FORMAT`` chooses: ``json``,
``console`` (structlog's key=value lines, coloured on a terminal), or ``auto``: console when standard error
is a terminal, JSON otherwise (containers, files, pipes).

The last step before rendering, :func:`redact`, is the last line of defence against leaks: the values of
keys that name a credential (``authorization``, ``api_key``, ``token``, ``password``, ``secret``, ...) or a
client address (``client_ip``, ``x_forwarded_for``, ...) become ``<redacted>``; in every string, bearer and
basic credentials, JSON web tokens, the secret part of ingestion API keys (``ak_<key_id>_<secret>``: the
key id stays, it names the key), passwords in URLs and ``?token=``-style parameters are masked, and so is
every IPv4 and IPv6 address (``<ip>``), including the servers' own: no log line holds an address.

Faust's worker sets up logging itself (``mode.utils.logging.setup_logging``) when it starts: it is given
:func:`faust_logging_config`, the very configuration :func:`configure_logging` applies.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import logging.config
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

LogFormat = Literal["auto", "json", "console"]
REDACTED = "<redacted>"
IP_MASK = "<ip>"
HANDLER_NAME = "analytics"
"""The name of our one handler on the root logger (``dictConfig`` names handlers by their key)."""
UVICORN_ACCESS = "uvicorn.access"
ACCESS_LOGGER = "plumbing.access"
"""The logger of the one line per HTTP request (:mod:`plumbing.middleware`; uvicorn's own is off)."""
LIBRARIES = (
    "aiokafka",
    "kafka",
    "faust",
    "mode",
    "uvicorn",
    "asyncio",
    "httpx",
    "httpcore",
    "clickhouse_connect",
    "aiosqlite",
    "asyncpg",
    "aiohttp",
    "multipart",
    "matplotlib",
    "PIL",
)
"""Loggers kept at ``INFO`` when the level is ``DEBUG``: their debug lines (aiokafka's every fetch request,
mode's every timer) would bury ours. At other levels they are left as they are, and so are the loggers of
libraries that set their own level (SQLAlchemy's ``WARNING``: at ``INFO`` it logs every statement;
urllib3's)."""
_MAX_DEPTH = 8

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


# ---- the request id ---------------------------------------------------------------------------------------


@contextmanager
def request_context(request_id: str) -> Iterator[None]:
    """For the duration of the block (a request), every log line carries ``request_id`` and
    :func:`current_request_id` answers it; restored afterwards, even when the block raises."""
    token = _request_id.set(request_id)
    try:
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            yield
    finally:
        _request_id.reset(token)


def current_request_id() -> str | None:
    """The id of the request being served in this context (``None`` outside of one)."""
    return _request_id.get()


# ---- redaction --------------------------------------------------------------------------------------------

_SECRET_WORDS = frozenset(
    {"authorization", "password", "passwd", "pwd", "secret", "token", "cookie", "credential", "credentials"}
)
_SECRET_NAMES = frozenset({"api_key", "apikey", "x_api_key", "set_cookie", "private_key", "client_secret"})
_ADDRESS_NAMES = frozenset(
    {
        "ip",
        "ip_address",
        "client_ip",
        "client_addr",
        "client_address",
        "remote_addr",
        "remote_ip",
        "peer",
        "peername",
        "x_forwarded_for",
        "x_real_ip",
        "forwarded",
        "forwarded_for",
    }
)

_TEXT = re.compile(
    r"(?P<scheme>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]+"
    r"|(?P<jwt>\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*)"
    # security.api_keys: ak_<12 hex key id>_<43 base64url secret>; plumbing cannot import it (layers)
    r"|(?<![A-Za-z0-9])(?P<key_id>ak_[0-9a-f]{12}_)[A-Za-z0-9_-]{43}"
    r"|(?P<userinfo>\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s/@:\"']+:[^\s/@\"']*@"
    r"|(?P<param>[?&;](?:access_token|id_token|token|api_key|apikey|key|password|secret)=)[^&\s\"']+"
    r"|(?<![\w.])(?P<ipv4>(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))"
    r"(?!\.?\d)"
    r"|(?<![\w:.])(?P<ipv6>(?=[0-9A-Fa-f:.]*::|(?:[0-9A-Fa-f]{1,4}:){7})[0-9A-Fa-f:.]{2,45})(?![\w:])",
    re.IGNORECASE,
)
"""What :func:`mask` hides in any text; case-insensitive like the ``Authorization`` scheme."""


def _masked(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "ipv6":
        text = match.group("ipv6")
        candidate = text.rstrip(".")
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            return text
        return IP_MASK + text[len(candidate) :]
    if kind == "ipv4":
        return IP_MASK
    if kind == "jwt":
        return REDACTED
    if kind == "userinfo":
        return f"{match.group('userinfo')}{REDACTED}@"
    assert kind is not None
    return f"{match.group(kind)}{REDACTED}"


def mask(text: str) -> str:
    """``text`` with credentials, tokens, API key secrets and IP addresses masked."""
    return _TEXT.sub(_masked, text)


def _secret_key(key: str) -> Literal["secret", "address"] | None:
    name = key.lower().replace("-", "_")
    if name in _ADDRESS_NAMES:
        return "address"
    if name in _SECRET_NAMES or "api_key" in name or _SECRET_WORDS.intersection(name.split("_")):
        return "secret"
    return None


def _clean(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return mask(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth < _MAX_DEPTH:
        if isinstance(value, Mapping):
            return _clean_mapping(value, depth + 1)
        if isinstance(value, list | tuple | set | frozenset):
            return [_clean(item, depth + 1) for item in value]
    if isinstance(value, bytes | bytearray):
        return mask(bytes(value).decode("utf-8", "replace"))
    return mask(str(value))  # rendered as text anyway (JSON: str(), console: repr())


def _clean_mapping(values: Mapping[Any, Any], depth: int) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        name = key if isinstance(key, str) else str(key)
        if value is not None and value != "" and _secret_key(name) is not None:
            cleaned[mask(name)] = REDACTED
        else:
            cleaned[mask(name)] = _clean(value, depth)
    return cleaned


def redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Processor: the event with every value of a credential's or an address's key replaced and every
    string (the message, extras, their lists and mappings, the exception text) :func:`mask`-ed. Runs last
    before the renderer, so whatever any logger wrote is covered."""
    return _clean_mapping(event_dict, 0)


# ---- the processors ---------------------------------------------------------------------------------------


def _timestamp(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """``timestamp``: when the record was made (ISO 8601 in UTC, milliseconds)."""
    record = event_dict.get("_record")
    at = datetime.fromtimestamp(record.created, UTC) if record is not None else datetime.now(UTC)
    event_dict["timestamp"] = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return event_dict


def _drop_library_noise(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """uvicorn passes a coloured copy of some messages as ``extra``; the message itself is enough."""
    event_dict.pop("color_message", None)
    return event_dict


_FIRST = ("timestamp", "level", "logger", "event", "request_id")


def _ordered(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """The fixed keys first, then the extras in the order given: lines read alike."""
    ordered = {key: event_dict.pop(key) for key in _FIRST if key in event_dict}
    ordered.update(event_dict)
    return ordered


def _to_json(event_dict: EventDict, **_: Any) -> str:
    return json.dumps(event_dict, ensure_ascii=False, default=str)


_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    _timestamp,
]


def _foreign_pre_chain() -> list[Processor]:
    """What a ``logging`` record (ours or a library's) goes through before the common processors."""
    return [*_SHARED, structlog.stdlib.ExtraAdder()]


def wants_json(log_format: LogFormat, stream: TextIO | None = None) -> bool:
    """Whether ``log_format`` renders JSON on ``stream`` (standard error): ``auto`` is console on a
    terminal."""
    if log_format != "auto":
        return log_format == "json"
    stream = stream if stream is not None else sys.stderr
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):  # no such method, or closed
        return True


def make_formatter(json_lines: bool, colors: bool = False) -> structlog.stdlib.ProcessorFormatter:
    """The formatter of our handler: one JSON object per line, or a console line (``colors``: ANSI)."""
    renderer: Processor = (
        structlog.processors.JSONRenderer(serializer=_to_json)
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=colors)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_foreign_pre_chain(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _drop_library_noise,
            structlog.processors.format_exc_info,
            redact,
            _ordered,
            renderer,
        ],
    )


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}")
    return number


def logging_config(
    level: str | int = "INFO", log_format: LogFormat = "auto", stream: TextIO | None = None
) -> dict[str, Any]:
    """The :func:`logging.config.dictConfig` of a process: the root logger at ``level`` with our one
    handler on standard error (``stream``: another one, e.g. for tests), :data:`LIBRARIES` at ``INFO`` when
    ``level`` is ``DEBUG``. Loggers that exist are kept (``disable_existing_loggers`` false)."""
    target = stream if stream is not None else sys.stderr
    json_lines = wants_json(log_format, target)
    colors = not json_lines and _isatty(target)
    handler: dict[str, Any] = {"class": "logging.StreamHandler", "formatter": HANDLER_NAME}
    handler["stream"] = stream if stream is not None else "ext://sys.stderr"
    root = _level(level)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {HANDLER_NAME: {"()": make_formatter, "json_lines": json_lines, "colors": colors}},
        "handlers": {HANDLER_NAME: handler},
        "loggers": {
            **{name: {"level": logging.INFO} for name in (LIBRARIES if root < logging.INFO else ())},
            # off for good: it prints the client's address (plumbing.middleware logs the access line).
            # uvicorn's access_log=False alone does not last: dictConfig resets the loggers under one
            # it configures ("uvicorn"), and uvicorn logs access lines whenever the logger has handlers.
            UVICORN_ACCESS: {"handlers": [], "propagate": False},
        },
        "root": {"level": root, "handlers": [HANDLER_NAME]},
    }


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def configure_logging(
    level: str | int = "INFO", log_format: LogFormat = "auto", *, stream: TextIO | None = None
) -> bool:
    """Set up this process's logging (callers pass ``ANALYTICS_LOG_LEVEL`` and ``ANALYTICS_LOG_FORMAT``);
    calling it again applies the new choice. Loggers of :mod:`structlog` (``structlog.get_logger()``) go
    through the same handler.

    Like :func:`logging.basicConfig`, it leaves alone a root logger that has handlers of someone else's (a
    test runner's, a program embedding ours): returns whether it configured."""
    root = logging.getLogger()
    if any(handler.get_name() != HANDLER_NAME for handler in root.handlers):
        return False
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    logging.config.dictConfig(logging_config(level, log_format, stream))
    logging.captureWarnings(True)
    return True


def faust_logging_config(level: str | int = "INFO", log_format: LogFormat = "auto") -> dict[str, Any]:
    """The ``logging_config`` of Faust's ``Worker``: mode's ``setup_logging`` then applies our
    configuration, not its own coloured handler, when the worker starts."""
    return logging_config(level, log_format)
