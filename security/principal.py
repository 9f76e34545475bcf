"""Who is calling: the identity every request is authorised and constrained by.

A :class:`Principal` comes only from a verified credential (a JWT or an ingestion API key), never from a
request body, so the tenant a statement is constrained to and the tenant an event is stamped with cannot
be chosen by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    """Everything within the tenant."""
    TEACHER = "teacher"
    """Their courses (the LMS API); in the product API, like ``user``."""
    STUDENT = "student"
    """Only their own data."""
    USER = "user"
    """Only their own data."""
    SERVICE = "service"
    """Back-end senders and readers for a tenant: any user's data, no tenant administration."""
    PLATFORM = "platform"
    """Operators of a deployment hosting several tenants: with ``admin``, the learning platform's dashboard
    overview of any tenant they name (``tenantId``); nothing else beyond their own tenant."""


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    """The token's ``sub`` (a user id for end-user roles), or ``key:<key id>`` for an API key."""
    tenant_id: str
    roles: frozenset[Role]
    api_key: bool = False
    """Write-only ingestion key: it may post events and nothing else."""

    @property
    def credential(self) -> str:
        """The key rate limits are counted by: one per token subject or API key, within the tenant."""
        return f"{self.tenant_id}\x1f{self.subject}"

    @property
    def privileged(self) -> bool:
        """May read and act on any user of its tenant."""
        return not self.api_key and bool(self.roles & {Role.ADMIN, Role.SERVICE})
