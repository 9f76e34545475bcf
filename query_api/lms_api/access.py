"""Who may read what of the learning platform (ADR 0016), from the verified credential and the catalog.

- ``admin`` and ``service`` credentials read everything of their tenant (``/api/admin/...``).
- A ``teacher`` reads ``/api/teacher/...`` for the courses whose current state (``lms_courses FINAL``)
  lists them in ``teacher_ids``, and those courses' students, assessments and videos.
- A ``student`` reads ``/api/student/...``: their own data only, the student taken from the credential.

A teacher's or student's token names the person by ``sub`` = their LMS user id (decimal text, as in the
catalog). Every refusal is a 403 in the seed's envelope and is written to the audit log, as are reads of
other people's data (tenant-wide and course-wide reads); a student's reads of their own data are not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from plumbing.http_errors import AnalyticsError
from query_api.api.deps import StoreDep
from query_api.lms.catalog_cache import CatalogDirectory, CatalogSnapshot
from query_api.lms.state import READ_SETTINGS
from query_api.store import QueryStore
from schemas.lms_envelope import AnalyticsErrorCode
from schemas.lms_payloads import MAX_LMS_ID
from security.audit import AuditEntry, AuditLog, Outcome
from security.http import PrincipalDep
from security.principal import Principal, Role

TENANT_WIDE = frozenset({Role.ADMIN, Role.SERVICE})


def refused(message: str) -> AnalyticsError:
    return AnalyticsError(403, AnalyticsErrorCode.FORBIDDEN, message)


@dataclass(frozen=True, slots=True)
class LmsCaller:
    """The caller of an LMS read: the credential, the store the catalog is read from, the audit log."""

    principal: Principal
    store: QueryStore
    request_id: str
    resource: str
    audit: AuditLog | None
    catalog: CatalogDirectory | None = None
    """the tenants' catalog snapshots for the access checks (``None``: read the store each time)"""

    async def catalog_snapshot(self, tenant_id: str | None = None) -> CatalogSnapshot:
        """The caller's tenant's catalog snapshot (``tenant_id``'s, for a read the caller may make of another
        tenant: see :meth:`tenant_named`)."""
        directory = self.catalog or CatalogDirectory(self.store, 0)
        return await directory.snapshot(tenant_id or self.tenant_id)

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id

    def _record(self, action: str, target: str | None, outcome: Outcome, detail: str = "") -> None:
        if self.audit is not None:
            self.audit.record(
                AuditEntry.of(self.principal, action, target, self.resource, self.request_id, outcome, detail)
            )

    def _refuse(self, action: str, target: str | None, reason: str) -> AnalyticsError:
        self._record(action, target, Outcome.DENIED, reason)
        return refused(reason)

    def refuse_target(self, target: str, reason: str) -> AnalyticsError:
        """A 403 about ``target`` (``quiz:7`` …), audited: raise it."""
        return self._refuse("lms_read_course", target, reason)

    def require_admin(self) -> None:
        """Tenant-wide analytics: an ``admin`` or ``service`` credential."""
        if self.principal.api_key or not self.principal.roles & TENANT_WIDE:
            raise self._refuse(
                "lms_read_tenant", None, "the admin analytics need an admin or service credential"
            )
        self._record("lms_read_tenant", None, Outcome.ALLOWED)

    def record_change(self, action: str, target: str) -> None:
        """Audit a change an admin made (configuration writes), after :meth:`require_admin`."""
        self._record(action, target, Outcome.ALLOWED)

    def tenant_named(self, tenant_id: str | None) -> str:
        """The tenant a tenant-wide read is about: the credential's, or ``tenant_id`` for a ``platform``
        admin (another tenant named by anyone else is a 403)."""
        self.require_admin()
        if tenant_id is None or tenant_id == self.tenant_id:
            return self.tenant_id
        if Role.PLATFORM not in self.principal.roles:
            raise self._refuse(
                "lms_read_tenant", f"tenant:{tenant_id}", "only a platform role reads other tenants"
            )
        self._record("lms_read_tenant", f"tenant:{tenant_id}", Outcome.ALLOWED)
        return tenant_id

    def person_id(self, role: Role) -> int:
        """The LMS user id of a ``role`` credential (its ``sub``), or 403."""
        action = f"lms_read_{role.value}"
        if self.principal.api_key or role not in self.principal.roles:
            raise self._refuse(action, None, f"these analytics need a {role.value} credential")
        subject = self.principal.subject
        if not subject.isdigit() or not 1 <= int(subject) <= MAX_LMS_ID:
            raise self._refuse(
                action, None, f"the credential names no {role.value} (sub must be their LMS user id)"
            )
        return int(subject)

    async def teacher_courses(self) -> set[int]:
        """The courses the calling teacher is assigned to now (403 without a teacher credential)."""
        teacher = self.person_id(Role.TEACHER)
        return (await self.catalog_snapshot()).taught_by(teacher)

    async def require_teacher_of(self, course_id: int) -> int:
        """The calling teacher's id if they teach ``course_id``; else 403 (also for a course that does not
        exist: a teacher cannot probe other courses' existence)."""
        teacher = self.person_id(Role.TEACHER)
        if course_id not in await self.teacher_courses():
            raise self._refuse("lms_read_course", f"course:{course_id}", "you do not teach this course")
        self._record("lms_read_course", f"course:{course_id}", Outcome.ALLOWED)
        return teacher

    def student(self) -> int:
        """The calling student's id (the ``/api/student/...`` routes read only this)."""
        return self.person_id(Role.STUDENT)


async def get_lms_caller(request: Request, principal: PrincipalDep, store: StoreDep) -> LmsCaller:
    audit: AuditLog | None = getattr(request.app.state, "audit", None)
    catalog: CatalogDirectory | None = getattr(request.app.state, "lms_catalog", None)
    return LmsCaller(
        principal,
        store.tuned(READ_SETTINGS),
        getattr(request.state, "request_id", ""),
        request.url.path,
        audit,
        catalog,
    )


LmsCallerDep = Annotated[LmsCaller, Depends(get_lms_caller)]
