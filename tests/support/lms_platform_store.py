"""The generated learning platform of the LMS oracle tests, stored once per test session through the
one-process app (``analytics dev``: gateway, in-process bus, writers): the items of
:func:`loadgen.lms_platform.generate_platform` (seed 7), posted tenant by tenant with each tenant's own
service credential and zone. The models' oracle (``test_lms_oracle``) and the API's (``test_lms_api``) read
the same database (the session fixtures of ``tests/conftest.py``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from ingest_gateway.settings import GatewaySettings
from loadgen.lms_platform import TenantPlatform
from plumbing.clickhouse import open_client
from plumbing.migrate import migrate
from plumbing.tenant_store import save_tenant_settings
from query_api.metrics import QueryMetrics
from query_api.store import QueryStore
from schemas.lms_payloads import LMS_ROUTES
from schemas.tenant_config import Retention, TenantSettings
from tests.support import lms_oracle as oracle
from tests.support.asgi import served
from tests.support.auth import token
from tests.support.dev_app import dev_app

BATCH = 1000
LONG_RETENTION = Retention(raw_days=3660, daily_rollup_days=3660, weekly_monthly_rollup_days=7320)
"""The term lies in the past: a gateway posting it later than the default raw retention would refuse it."""
PEOPLE_PER_TENANT = 30
VIDEO_STUDENTS_PER_TENANT = 8


@dataclass(frozen=True)
class Tenant:
    """One tenant's facts and the ids the comparison asks for."""

    tenant_id: str
    zone: ZoneInfo
    facts: oracle.Facts
    courses: list[int]
    assessments: list[int]
    people: list[tuple[str, int]]
    video_students: list[int]


def tenant_of(platform: TenantPlatform) -> Tenant:
    courses: set[int] = set()
    assessments: set[int] = set()
    people: set[tuple[str, int]] = set()
    for item in platform.items:
        body = item.body
        if body.get("course_id"):
            courses.add(int(body["course_id"]))
        if body.get("assessment_id"):
            assessments.add(int(body["assessment_id"]))
        assessments.update(int(a["assessment_id"]) for a in body.get("assessments", []))
        if "user_type" in body:
            people.add((str(body["user_type"]), int(body["user_id"])))
        if body.get("type") == "enrollment":
            people.add(("student", int(body["student_id"])))
    staff = sorted(p for p in people if p[0] != "student")
    students = sorted(p for p in people if p[0] == "student")
    step = max(1, len(students) // max(1, PEOPLE_PER_TENANT - len(staff)))
    sample = [*staff, *students[::step]][: max(PEOPLE_PER_TENANT, len(staff) + 1)]
    facts = oracle.facts_of(
        platform.tenant_id, platform.time_zone, ((i.stream.value, i.body) for i in platform.items)
    )
    video_step = max(1, len(students) // VIDEO_STUDENTS_PER_TENANT)
    return Tenant(
        platform.tenant_id,
        ZoneInfo(platform.time_zone),
        facts,
        sorted(courses),
        sorted(assessments),
        sample,
        [ident for _, ident in students[::video_step]],
    )


def mess_of(platform: TenantPlatform) -> dict[str, int]:
    """How messy the delivery is: versions after a newer one of the same entity, activity before its
    course's or person's first document, re-sent client ids, activity delivered more than a day after a
    later-dated event."""
    newest: dict[tuple[str, ...], int] = {}
    documented: set[tuple[str, Any]] = set()
    ids: set[str] = set()
    latest: datetime | None = None
    mess = dict.fromkeys(("versions out of order", "before the entity", "re-sent", "late"), 0)
    for item in platform.items:
        body = item.body
        if "id" in body:
            mess["re-sent"] += body["id"] in ids
            ids.add(body["id"])
        if body["type"] in oracle.ENTITY_KEYS:
            key = oracle.entity_key(body)
            mess["versions out of order"] += newest.get(key, -1) > body["version"]
            newest[key] = max(newest.get(key, -1), body["version"])
            if body["type"] == "course":
                documented.add(("course", body["course_id"]))
            elif body["type"] == "user":
                documented.add((body["user_type"], body["user_id"]))
        elif "user_type" in body:
            course_known = not body.get("course_id") or ("course", body["course_id"]) in documented
            person_known = (body["user_type"], body["user_id"]) in documented
            mess["before the entity"] += not (course_known and person_known)
            when = oracle.moment(body["timestamp"])
            mess["late"] += latest is not None and when < latest - timedelta(days=1)
            latest = when if latest is None else max(latest, when)
    return mess


def checked_tenants(platforms: list[TenantPlatform]) -> list[Tenant]:
    """Every tenant's ids, after checking the platform is as messy and as large as the acceptance asks."""
    found = [tenant_of(p) for p in platforms]
    assert len(found) >= 3 and len({t.zone for t in found}) == len(found)
    assert all(len(t.people) >= PEOPLE_PER_TENANT and any(p[0] == "teacher" for p in t.people) for t in found)
    assert sum(len(t.courses) for t in found) == 20
    assert sum(1 for t in found for key in t.facts.versions if key[:2] == ("user", "student")) == 500
    assert all(len(t.facts.current["institute"]) >= 2 for t in found)
    for platform in platforms:
        assert all(count > 0 for count in mess_of(platform).values()), (platform.tenant_id, mess_of(platform))
    return found


async def post_all(target: Any, platforms: list[TenantPlatform]) -> None:
    """Every tenant's items to the learning routes of the one-process app with the tenant's own service
    credential: per stream in delivery order, ``BATCH`` items a call, the tenants' calls concurrent (commits
    are shared, as under real load)."""
    zones = {p.tenant_id: p.time_zone for p in platforms}
    app = dev_app(target, GatewaySettings(), tenant_timezones=zones)

    async def post(http: httpx.AsyncClient, platform: TenantPlatform) -> None:
        headers = {"authorization": f"Bearer {token('lms-backend', platform.tenant_id, ('service',))}"}
        for stream, route in LMS_ROUTES.items():
            bodies = [i.body for i in platform.items if i.stream is stream]
            for offset in range(0, len(bodies), BATCH):
                chunk = bodies[offset : offset + BATCH]
                response = await http.post(f"{route}/batch", json={"events": chunk}, headers=headers)
                assert response.status_code == 200, response.text[:2000]
                answer = response.json()["data"]
                assert (answer["processed_count"], answer["warnings"]) == (len(chunk), []), answer["errors"][
                    :5
                ]

    async with served(app, "http://lms") as http:
        await asyncio.gather(*(post(http, platform) for platform in platforms))


def fill(url: str, database: str, platforms: list[TenantPlatform]) -> None:
    """Create ``database``, migrate it, store the tenants' zones and long retention, post every item."""
    from tests.conftest import ClickHouseTarget

    target = ClickHouseTarget(url, database)
    admin = open_client(url, database, create_database=True)
    try:
        migrate(admin)
        for platform in platforms:
            save_tenant_settings(
                admin,
                platform.tenant_id,
                TenantSettings(time_zone=platform.time_zone, retention=LONG_RETENTION),
            )
    finally:
        admin.close()
    asyncio.run(post_all(target, platforms))


def query_store(lms_platform: tuple[Any, list[Any]], pool_size: int = 2) -> QueryStore:
    """A query store of its own on the stored learning platform (``lms_platform``: its ``ClickHouseTarget``
    and platforms), for tests calling the readers directly; the caller closes it."""
    target = lms_platform[0]
    return QueryStore(lambda: open_client(target.url, target.database), QueryMetrics(), pool_size)
