"""The role rules as a table: every action × role × own/other user, and ingestion keys."""

from __future__ import annotations

import pytest

from security.policy import Action, decide
from security.principal import Principal, Role

ME, OTHER = "u-me", "u-other"
A = Action

# action: (roles allowed on any user of the tenant, roles allowed on their own data only)
EXPECTED: dict[Action, tuple[set[Role], set[Role]]] = {
    A.INGEST: ({Role.ADMIN, Role.SERVICE}, {Role.USER, Role.STUDENT, Role.TEACHER}),
    A.READ_USER: ({Role.ADMIN, Role.SERVICE}, {Role.USER, Role.STUDENT, Role.TEACHER}),
    A.READ_TENANT: ({Role.ADMIN, Role.SERVICE}, set()),
    A.WRITE_USER_CONFIG: ({Role.ADMIN}, {Role.USER, Role.STUDENT, Role.TEACHER}),
    A.WRITE_TENANT_SETTINGS: ({Role.ADMIN}, set()),
    A.EXPORT_USER: ({Role.ADMIN, Role.SERVICE}, set()),
    A.DELETE_USER: ({Role.ADMIN, Role.SERVICE}, set()),
    A.READ_AUDIT: ({Role.ADMIN}, set()),
}

CASES = [
    (action, role, target, (role in any_user) or (role in own and target == ME))
    for action, (any_user, own) in EXPECTED.items()
    for role in Role
    for target in (ME, OTHER)
]


def test_the_table_covers_every_action() -> None:
    assert set(EXPECTED) == set(Action)


@pytest.mark.parametrize(("action", "role", "target", "allowed"), CASES)
def test_role_rules(action: Action, role: Role, target: str, allowed: bool) -> None:
    decision = decide(Principal(ME, "t1", frozenset({role})), action, target)
    assert decision.allowed is allowed, decision.reason
    if allowed:
        assert decision.other_user is (target == OTHER)


@pytest.mark.parametrize("action", list(Action))
def test_an_ingestion_key_may_only_ingest(action: Action) -> None:
    key = Principal("key:abc", "t1", frozenset(), api_key=True)
    assert decide(key, action, ME).allowed is (action is Action.INGEST)


@pytest.mark.parametrize("action", list(Action))
def test_no_role_may_do_nothing(action: Action) -> None:
    assert not decide(Principal(ME, "t1", frozenset()), action, ME).allowed


def test_the_most_permissive_role_wins() -> None:
    both = Principal(ME, "t1", frozenset({Role.USER, Role.SERVICE}))
    assert decide(both, Action.READ_USER, OTHER).allowed
    assert not decide(both, Action.WRITE_TENANT_SETTINGS).allowed


def test_end_users_must_name_their_own_user() -> None:
    user = Principal(ME, "t1", frozenset({Role.USER}))
    assert not decide(user, Action.READ_USER, None).allowed
    assert decide(user, Action.READ_USER, ME).allowed
