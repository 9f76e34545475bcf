"""``make bench-query`` (second part): every read of the learning platform API over a store filled with
generated platforms (``bench.lms_query_load``: by default 10 tenants of 500 students and 20 courses each, a
105-day term ending 5 days ago, activity scale 8.5: about 5 M learning events), served by ``analytics
query`` with the result cache off, so every request runs its statements.

Per endpoint: 2 s of warm-up, then a closed loop of ``--concurrency`` clients for ``--duration`` seconds,
each request for a random tenant and random ids of it (a course and its teacher, a student, an institute,
an assessment), with the role's own token and the endpoint's default period (the last 30 days); p50/p99 per
endpoint go to ``bench/results/query-lms-<time>.json`` with the bar (p99 < 200 ms) marked per endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from typing import Any

import httpx

from bench.common import bench_token, query_server, save_result
from bench.query_bench import quantile

BAR_P99_MS = 200.0
A = "/api/admin/analytics"
ENDPOINTS: dict[str, tuple[str, str]] = {
    # name: (role, path template)
    "admin dashboard": ("admin", f"{A}/dashboard"),
    "admin realtime": ("admin", f"{A}/realtime"),
    "course performance": ("admin", f"{A}/courses/{{course}}/performance"),
    "course engagement": ("admin", f"{A}/courses/{{course}}/engagement"),
    "course completion": ("admin", f"{A}/courses/{{course}}/completion"),
    "course videos": ("admin", f"{A}/courses/{{course}}/videos"),
    "course assessments": ("admin", f"{A}/courses/{{course}}/assessments"),
    "courses compare": (
        "admin",
        f"{A}/courses/compare?courseIds={{course}},{{course2}}&metrics=engagement_score",
    ),
    "course daily-metrics": ("admin", f"{A}/courses/{{course}}/daily-metrics"),
    "course weekly-metrics": ("admin", f"{A}/courses/{{course}}/weekly-metrics"),
    "user engagement": ("admin", f"{A}/users/{{student}}/engagement"),
    "user progress": ("admin", f"{A}/users/{{student}}/progress"),
    "users cohort": ("admin", f"{A}/users/cohort?cohortBy=SIGNUP_WEEK"),
    "users retention": ("admin", f"{A}/users/retention"),
    "users activity-heatmap": ("admin", f"{A}/users/activity-heatmap"),
    "user monthly-metrics": ("admin", f"{A}/users/{{student}}/monthly-metrics"),
    "system usage": ("admin", f"{A}/system/usage"),
    "system performance": ("admin", f"{A}/system/performance"),
    "system storage": ("admin", f"{A}/system/storage"),
    "system traffic": ("admin", f"{A}/system/traffic"),
    "institute performance": ("admin", f"{A}/institutes/{{institute}}/performance"),
    "institute enrollments": ("admin", f"{A}/institutes/{{institute}}/enrollments"),
    "teacher course": ("teacher", "/api/teacher/analytics/courses/{course}"),
    "teacher course students": ("teacher", "/api/teacher/analytics/courses/{course}/students"),
    "teacher assignment": ("teacher", "/api/teacher/analytics/assignments/{assignment}"),
    "teacher quiz": ("teacher", "/api/teacher/analytics/quizzes/{quiz}"),
    "teacher video-analytics": ("teacher", "/api/teacher/analytics/courses/{course}/video-analytics"),
    "student progress": ("student", "/api/student/analytics/progress"),
    "student engagement": ("student", "/api/student/analytics/engagement"),
    "student performance": ("student", "/api/student/analytics/performance"),
    "student study-time": ("student", "/api/student/analytics/study-time"),
    "student video-history": ("student", "/api/student/analytics/video-history"),
}


class Requests:
    """Random requests of an endpoint over the filled tenants, with the role's token (minted once per
    subject)."""

    def __init__(self, ids: dict[str, Any], seed: int) -> None:
        self.ids = ids
        self.rng = random.Random(seed)
        self.tokens: dict[tuple[str, str, str], str] = {}

    def _token(self, tenant: str, role: str, subject: str) -> dict[str, str]:
        key = (tenant, role, subject)
        if key not in self.tokens:
            self.tokens[key] = bench_token((role,), tenant, subject)
        return {"authorization": f"Bearer {self.tokens[key]}"}

    def next(self, role: str, template: str) -> tuple[str, dict[str, str]]:
        tenant = self.rng.choice(sorted(self.ids))
        mine = self.ids[tenant]
        course, course2 = self.rng.sample(mine["courses"], 2)
        entry = mine["catalog"][str(course)]
        student = self.rng.choice(mine["people"])
        values = {
            "course": course,
            "course2": course2,
            "student": student,
            "institute": self.rng.choice(mine["institutes"]),
            "quiz": self.rng.choice(entry["quizzes"]),
            "assignment": self.rng.choice(entry["assignments"]),
        }
        subject = {"admin": "bench", "teacher": str(entry["teachers"][0]), "student": str(student)}[role]
        return template.format(**values), self._token(tenant, role, subject)


async def measure(
    base: str, role: str, template: str, ids: dict[str, Any], duration: float, clients: int
) -> dict[str, Any]:
    latencies: list[float] = []
    failures: dict[int, int] = {}
    requests = Requests(ids, seed=5)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        stop_at = time.perf_counter() + duration

        async def worker() -> None:
            while time.perf_counter() < stop_at:
                path, headers = requests.next(role, template)
                started = time.perf_counter()
                response = await client.get(path, headers=headers)
                if response.status_code != 200:
                    failures[response.status_code] = failures.get(response.status_code, 0) + 1
                    continue
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(clients)))
    p99 = quantile(latencies, 0.99)
    return {
        "requests": len(latencies),
        "failures": failures,
        "requests_per_s": round(len(latencies) / duration, 1),
        "p50_ms": quantile(latencies, 0.5),
        "p99_ms": p99,
        "max_ms": quantile(latencies, 1.0),
        "bar_held": bool(latencies) and p99 < BAR_P99_MS,
    }


def serve_and_measure(url: str, folder: str, ids: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with query_server(url, folder) as base:
        wanted = [
            name for name in ENDPOINTS if not args.only or any(part in name for part in args.only.split(","))
        ]
        for name in wanted:
            role, template = ENDPOINTS[name]
            asyncio.run(measure(base, role, template, ids, 2, args.concurrency))  # warm up
            results[name] = asyncio.run(measure(base, role, template, ids, args.duration, args.concurrency))
            print(name, results[name], file=sys.stderr)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--students", type=int, default=500, help="per tenant")
    parser.add_argument("--courses", type=int, default=20, help="per tenant")
    parser.add_argument("--scale", type=float, default=8.5, help="learning activity per student and day")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per endpoint")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--store", help="a store filled before (chdb URL) and its ids file: skip the fill")
    parser.add_argument("--only", help="comma-separated parts of endpoint names to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url, ids_path = (
            args.store.split("#", 1) if args.store else (f"chdb://{folder}/ch", f"{folder}/ids.json")
        )
        fill: dict[str, Any] = {}
        if not args.store:
            subprocess.run(
                [
                    sys.executable, "-m", "bench.lms_query_load", "--url", url,
                    "--tenants", str(args.tenants), "--students", str(args.students),
                    "--courses", str(args.courses), "--scale", str(args.scale), "--ids-out", ids_path,
                ],
                check=True,
            )  # fmt: skip
        with open(ids_path) as found:
            fill = json.load(found)
        endpoints = serve_and_measure(url, folder, fill["ids"], args)
    held = [name for name, result in endpoints.items() if result["bar_held"]]
    save_result(
        "query-lms",
        {
            "tenants": len(fill["ids"]),
            "students_per_tenant": args.students,
            "courses_per_tenant": args.courses,
            "items": fill["items"],
            "fill_s": fill["fill_s"],
            "concurrency": args.concurrency,
            "duration_s_per_endpoint": args.duration,
            "result_cache": "off",
            "bar": f"p99 < {BAR_P99_MS:.0f} ms",
            "bar_held_by": f"{len(held)} of {len(endpoints)}",
            "endpoints": endpoints,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
