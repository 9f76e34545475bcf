"""The authorisation rules, in one table: which roles may do what, to whose data.

Routes ask :func:`decide` (or the FastAPI dependencies built on it) and never compare roles themselves,
so a rule is changed here once and the table-driven tests cover every route. Tenancy is not decided here:
every statement is constrained to the principal's tenant where it is built (``Caller``/``Scope``), so a
decision is always about users *within* that tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from security.principal import Principal, Role


class Action(StrEnum):
    INGEST = "ingest"
    """Post events (end users' events are stamped with their own user id)."""
    READ_USER = "read_user"
    """Read one user's analytics, listings and configuration."""
    READ_TENANT = "read_tenant"
    """Read tenant-wide listings not narrowed to one user."""
    WRITE_USER_CONFIG = "write_user_config"
    """Change a user's tracking preferences."""
    WRITE_TENANT_SETTINGS = "write_tenant_settings"
    """Change the tenant's time zone, IP handling and retention."""
    EXPORT_USER = "export_user"
    DELETE_USER = "delete_user"
    READ_AUDIT = "read_audit"


_ANY_USER = "any user of the tenant"
_OWN = "own data only"

RULES: dict[Action, dict[Role, str]] = {
    Action.INGEST: {
        Role.ADMIN: _ANY_USER,
        Role.SERVICE: _ANY_USER,
        Role.TEACHER: _OWN,
        Role.STUDENT: _OWN,
        Role.USER: _OWN,
    },
    Action.READ_USER: {
        Role.ADMIN: _ANY_USER,
        Role.SERVICE: _ANY_USER,
        Role.TEACHER: _OWN,
        Role.STUDENT: _OWN,
        Role.USER: _OWN,
    },
    Action.READ_TENANT: {Role.ADMIN: _ANY_USER, Role.SERVICE: _ANY_USER},
    Action.WRITE_USER_CONFIG: {
        Role.ADMIN: _ANY_USER,
        Role.TEACHER: _OWN,
        Role.STUDENT: _OWN,
        Role.USER: _OWN,
    },
    Action.WRITE_TENANT_SETTINGS: {Role.ADMIN: _ANY_USER},
    Action.EXPORT_USER: {Role.ADMIN: _ANY_USER, Role.SERVICE: _ANY_USER},
    Action.DELETE_USER: {Role.ADMIN: _ANY_USER, Role.SERVICE: _ANY_USER},
    Action.READ_AUDIT: {Role.ADMIN: _ANY_USER},
}
"""Action → role → scope. A role missing from an action's row may not do it at all."""

API_KEY_ACTIONS = frozenset({Action.INGEST})
"""Ingestion API keys are write-only."""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str
    other_user: bool = False
    """The principal acts on another user's data (what the audit log records)."""


def decide(principal: Principal, action: Action, user_id: str | None = None) -> Decision:
    """May ``principal`` do ``action`` to ``user_id``'s data (``None``: not about one user)?"""
    if principal.api_key:
        if action in API_KEY_ACTIONS:
            return Decision(True, "ingestion key")
        return Decision(False, "an ingestion API key may only post events")
    scopes = {RULES[action][role] for role in principal.roles if role in RULES[action]}
    if not scopes:
        roles = ", ".join(sorted(principal.roles)) or "no role"
        return Decision(False, f"{roles} may not {action.value.replace('_', ' ')}")
    other = user_id is not None and user_id != principal.subject
    if _ANY_USER in scopes:
        return Decision(True, "tenant-wide role", other_user=other)
    if user_id is None:
        return Decision(False, "this role may only act on its own user id")
    if other:
        return Decision(False, "this role may only access its own data")
    return Decision(True, "own data")
