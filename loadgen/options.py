"""The options of a load run and the command-line arguments that set them (no heavy imports here)."""

from __future__ import annotations

import argparse
import os
import random
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.topics import Stream

DEFAULT_LMS_TERM_DAYS = 28


@dataclass(frozen=True)
class LoadOptions:
    url: str = "http://127.0.0.1:8000"
    rate: float = 0.0
    """Target events/s over all streams; 0 sends as fast as the gateway answers."""
    duration_s: float | None = 10.0
    events: int | None = None
    """Stop after this many items (over all streams); with it, ``duration_s`` may be None."""
    sessions: int | None = None
    """Stop after the items of this many product sessions (the same sessions for any ``streams``); the
    learning platform's streams are finite: their items are all sent (unless ``events`` or the duration
    stops the run first)."""
    users: int = 100
    concurrency: int = 8
    batch: int = 100
    gzip: bool = False
    seed: int = 0
    history_days: float = 0.0
    streams: frozenset[Stream] = field(default_factory=lambda: frozenset(Stream))
    user_prefix: str = "user_"
    max_errors: int = 100
    progress: bool = True
    now: datetime | None = None
    token: str | None = field(default=None, repr=False)
    """Bearer token sent with every request."""
    api_key: str | None = field(default=None, repr=False)
    """Ingestion API key (``X-API-Key``) sent with every request."""
    lms_students: int = 120
    """The learning platform's size (its streams only): students, courses, and its users' zone."""
    lms_courses: int = 8
    lms_scale: float = 1.0
    """Multiplies the platform's learning activity (sessions per student)."""
    lms_zone: str = "UTC"

    def lms_term_days(self) -> int:
        """The learning platform's term: ``history_days`` (at least 7), else :data:`DEFAULT_LMS_TERM_DAYS`."""
        return max(7, round(self.history_days)) if self.history_days else DEFAULT_LMS_TERM_DAYS

    def auth_headers(self) -> dict[str, str]:
        headers = {}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        if self.api_key:
            headers["x-api-key"] = self.api_key
        return headers


DEFAULT_DURATION_S = 10.0
TOKEN_ENV = "ANALYTICS_LOADGEN_TOKEN"
API_KEY_ENV = "ANALYTICS_LOADGEN_API_KEY"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="gateway base URL")
    parser.add_argument("--rate", type=float, default=0.0, help="target events/s; 0 = as fast as possible")
    parser.add_argument("--duration", type=float, help=f"seconds to run (default {DEFAULT_DURATION_S:g})")
    parser.add_argument("--events", type=int, help="stop after this many events (over all streams)")
    parser.add_argument(
        "--sessions", type=int, help="stop after this many product sessions (the LMS platform is sent whole)"
    )
    parser.add_argument("--users", type=int, default=100, help="size of the user population")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--batch", type=int, default=100, help="events per /analytics/events/batch request")
    parser.add_argument("--gzip", action=argparse.BooleanOptionalAction, default=False, help="gzip bodies")
    parser.add_argument("--seed", type=int, help="reproduce the traffic of a seed (default: random)")
    parser.add_argument(
        "--history",
        type=float,
        default=0.0,
        metavar="DAYS",
        help=f"backdate over DAYS days; the learning platform's term (default {DEFAULT_LMS_TERM_DAYS} days)",
    )
    parser.add_argument(
        "--streams",
        default=",".join(s.value for s in Stream),
        help="streams to send, comma-separated (default: all, the product's and the learning platform's)",
    )
    parser.add_argument("--user-prefix", default="user_", help="user ids are <prefix><n>, n from 1")
    parser.add_argument("--lms-students", type=int, default=120, help="students of the learning platform")
    parser.add_argument("--lms-courses", type=int, default=8, help="courses of the learning platform")
    parser.add_argument(
        "--lms-scale", type=float, default=1.0, help="multiplies the learning platform's activity"
    )
    parser.add_argument(
        "--lms-zone", default="UTC", help="IANA zone of the learning platform's users (their daily rhythm)"
    )
    parser.add_argument("--max-errors", type=int, default=100, help="stop after more failed requests")
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bar"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV),
        help=f"bearer token (default: ${TOKEN_ENV}; prefer the variable, arguments show in ps)",
    )
    parser.add_argument(
        "--api-key", default=os.environ.get(API_KEY_ENV), help=f"ingestion API key (default: ${API_KEY_ENV})"
    )


def options_from(args: argparse.Namespace) -> LoadOptions:
    names = [name.strip() for name in args.streams.split(",") if name.strip()]
    known = {stream.value for stream in Stream}
    if not names or not set(names) <= known:
        raise SystemExit(f"--streams: a comma-separated subset of {', '.join(sorted(known))}")
    streams = frozenset(Stream(name) for name in names)
    if args.batch < 1 or args.concurrency < 1 or args.users < 1:
        raise SystemExit("--batch, --concurrency and --users must be at least 1")
    if args.lms_students < 1 or args.lms_courses < 1 or args.lms_scale < 0:
        raise SystemExit("--lms-students and --lms-courses must be at least 1, --lms-scale not negative")
    try:
        ZoneInfo(args.lms_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SystemExit(f"--lms-zone: {args.lms_zone!r} is not an IANA time zone") from None
    duration = args.duration
    if duration is None and args.events is None and args.sessions is None:
        duration = DEFAULT_DURATION_S
    return LoadOptions(
        url=args.url,
        rate=args.rate,
        duration_s=duration,
        events=args.events,
        sessions=args.sessions,
        users=args.users,
        concurrency=args.concurrency,
        batch=args.batch,
        gzip=args.gzip,
        seed=args.seed if args.seed is not None else random.randrange(2**31),
        history_days=args.history,
        streams=streams,
        user_prefix=args.user_prefix,
        max_errors=args.max_errors,
        progress=args.progress,
        token=args.token,
        api_key=args.api_key,
        lms_students=args.lms_students,
        lms_courses=args.lms_courses,
        lms_scale=args.lms_scale,
        lms_zone=args.lms_zone,
    )
