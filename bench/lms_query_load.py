"""Fill a store for ``make bench-query-lms``: generated learning platforms (``loadgen.lms_platform``), one
tenant at a time, validated and stamped as the gateway stamps them, through the real processing steps
(decode → raw, current-state and rollup-feed rows → inserts), never hand-made rollup rows; each tenant's zone
and a long retention saved as its settings. Prints the ids the measurement asks for (JSON, to
``--ids-out``) and, last, the seconds the fill took. Run as its own process: chDB lets one process own a
data directory."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.query_load import settle
from ingest_gateway.stamping import stamp
from loadgen.lms_platform import generate_platform
from plumbing.clickhouse import open_client
from plumbing.migrate import migrate
from plumbing.settings import ZoneLookup
from plumbing.storage import Storage
from plumbing.tenant_store import save_tenant_settings
from schemas.lms_payloads import LMS_PAYLOADS
from schemas.messages import encode_batch
from schemas.rows import feed_rows, raw_rows
from schemas.tenant_config import Retention, TenantSettings
from schemas.topics import Stream
from stream_processors.pipeline import Delivery, decode

BATCH = 20_000
ZONES = ("America/Chicago", "UTC", "Asia/Kolkata", "Europe/Berlin", "America/Sao_Paulo")
LONG_RETENTION = Retention(raw_days=3660, daily_rollup_days=3660, weekly_monthly_rollup_days=7320)


def ids_of(items: list[Any]) -> dict[str, Any]:
    """What a tenant's requests name: courses with their teachers and assessments, students, people,
    institutes, videos."""
    courses: dict[int, dict[str, Any]] = {}
    students: set[int] = set()
    people: set[tuple[str, int]] = set()
    for item in items:
        body = item.body
        if body["type"] == "course":
            courses[int(body["course_id"])] = {
                "teachers": [int(t) for t in body.get("teacher_ids", [])],
                "institute": int(body.get("institute_id") or 0),
                "quizzes": [
                    int(a["assessment_id"])
                    for a in body.get("assessments", [])
                    if a["assessment_type"] == "quiz"
                ],
                "assignments": [
                    int(a["assessment_id"])
                    for a in body.get("assessments", [])
                    if a["assessment_type"] == "assignment"
                ],
                "videos": [int(v["video_id"]) for v in body.get("videos", [])],
            }
        elif body["type"] == "enrollment":
            students.add(int(body["student_id"]))
        if "user_type" in body:
            people.add((str(body["user_type"]), int(body["user_id"])))
    taught = {c: v for c, v in courses.items() if v["teachers"] and v["quizzes"] and v["assignments"]}
    return {
        "courses": sorted(taught),
        "catalog": {str(c): v for c, v in taught.items()},
        "students": sorted(students),
        "people": sorted(ident for kind, ident in people if kind == "student")[:200],
        "institutes": sorted({v["institute"] for v in taught.values() if v["institute"]}),
    }


async def fill(
    url: str, tenants: int, students: int, courses: int, scale: float, seed: int
) -> dict[str, Any]:
    admin = open_client(url, "analytics", create_database=True)
    migrate(admin)
    storage = Storage(lambda: open_client(url, "analytics"))
    now = datetime.now(UTC)
    term_days = 105
    term_start = (now - timedelta(days=term_days + 5)).date()
    started = time.perf_counter()
    counts: Counter[str] = Counter()
    ids: dict[str, Any] = {}
    for index in tenants:
        tenant_id, zone = f"lms-bench-{index + 1}", ZONES[index % len(ZONES)]
        save_tenant_settings(admin, tenant_id, TenantSettings(time_zone=zone, retention=LONG_RETENTION))
        zones = ZoneLookup("UTC", {tenant_id: zone})
        (platform,) = generate_platform(
            seed + index,
            tenants=[(tenant_id, zone)],
            students=students,
            courses=courses,
            teachers=max(2, courses * 3 // 5),
            institutes=max(1, courses // 10),
            term_start=term_start,
            term_days=term_days,
            activity_scale=scale,
        )
        ids[tenant_id] = ids_of(platform.items)
        received = datetime.now(UTC)
        for stream in (Stream.LMS_ENTITIES, Stream.LMS_ACTIVITY, Stream.LMS_TELEMETRY):
            payload = LMS_PAYLOADS[stream]
            bodies = [item.body for item in platform.items if item.stream is stream]
            for offset in range(0, len(bodies), BATCH):
                chunk = [
                    stamp(payload.model_validate(b), tenant_id, received)
                    for b in bodies[offset : offset + BATCH]
                ]
                decoded, letters = decode(stream, [Delivery("bench", 0, offset, encode_batch(chunk))])
                assert not letters, letters[0].error
                for table in [*raw_rows(stream, decoded), *feed_rows(stream, decoded, zones)]:
                    await storage.insert(
                        table, f"lms-bench/{tenant_id}/{stream.value}/{offset}/{table.table}"
                    )
            counts[stream.value] += len(bodies)
        print(f"{tenant_id}: {dict(counts)} after {time.perf_counter() - started:.0f} s", file=sys.stderr)
        del platform
    storage.close()
    admin.close()
    elapsed = time.perf_counter() - started
    settle(url)
    return {
        "fill_s": round(elapsed, 1),
        "items": dict(counts),
        "term_start": date.isoformat(term_start),
        "ids": ids,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--students", type=int, default=500, help="per tenant")
    parser.add_argument("--courses", type=int, default=20, help="per tenant")
    parser.add_argument("--scale", type=float, default=8.5, help="learning activity per student and day")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--first", type=int, default=0, help="index of the first tenant (to add tenants)")
    parser.add_argument("--ids-out", required=True)
    args = parser.parse_args()
    tenants = range(args.first, args.first + args.tenants)
    found = asyncio.run(fill(args.url, tenants, args.students, args.courses, args.scale, args.seed))
    with open(args.ids_out, "w") as out:
        json.dump(found, out)
    print(found["fill_s"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
