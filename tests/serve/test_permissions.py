"""The role policy, member-management rules and API token scopes, as written-out tables."""

from __future__ import annotations

import itertools

import pytest

from clipray.serve.permissions import (
    MACHINE_FORBIDDEN,
    MIN_ROLE,
    ROLE_RANK,
    SCOPES,
    Action,
    allowed,
    allowed_with_token,
    can_assign,
    last_owner_violation,
    parse_scopes,
    token_allows,
)
from clipray.storage.orm import Role

pytestmark = pytest.mark.unit

OWNER, ADMIN, EDITOR, VIEWER = Role.OWNER, Role.ADMIN, Role.EDITOR, Role.VIEWER

# The expected policy, spelled out by hand rather than derived from MIN_ROLE.
#                                owner  admin  editor viewer
MATRIX: dict[Action, tuple[bool, bool, bool, bool]] = {
    Action.READ:               (True,  True,  True,  True),
    Action.CREATE_JOB:         (True,  True,  True,  False),
    Action.EDIT_JOB:           (True,  True,  True,  False),
    Action.EDIT_CLIP:          (True,  True,  True,  False),
    Action.DELETE_CLIP:        (True,  True,  True,  False),
    Action.UPLOAD:             (True,  True,  True,  False),
    Action.MANAGE_TOKENS:      (True,  True,  True,  False),
    Action.MANAGE_MEMBERS:     (True,  True,  False, False),
    Action.PUBLISH:            (True,  True,  False, False),
    Action.REQUEST_PUBLISH:    (True,  True,  True,  False),
    Action.DELETE_SOURCE:      (True,  True,  False, False),
    Action.INSPECT_WORKERS:    (True,  True,  False, False),
    Action.READ_AUDIT:         (True,  True,  False, False),
    Action.MANAGE_WEBHOOKS:    (True,  True,  False, False),
    Action.DELETE_WORKSPACE:   (True,  False, False, False),
    Action.TRANSFER_OWNERSHIP: (True,  False, False, False),
    Action.CONNECT_ACCOUNT:    (True,  True,  False, False),
    Action.LIST_ACCOUNTS:      (True,  True,  True,  False),
    Action.READ_STREAMS:       (True,  True,  True,  True),
    Action.MANAGE_STREAMS:     (True,  True,  True,  False),
    Action.MANAGE_BRAND:       (True,  True,  True,  False),
}  # fmt: skip
MATRIX_ROLES = (OWNER, ADMIN, EDITOR, VIEWER)


def test_matrix_covers_every_role_and_action():
    assert set(MATRIX) == set(Action) == set(MIN_ROLE)
    assert set(MATRIX_ROLES) == set(Role) == set(ROLE_RANK)


@pytest.mark.parametrize(
    ("role", "action", "expected"),
    [
        pytest.param(role, action, row[i], id=f"{role}-{action}")
        for action, row in MATRIX.items()
        for i, role in enumerate(MATRIX_ROLES)
    ],
)
def test_role_action_matrix(role, action, expected):
    assert allowed(role, action) is expected


def test_rank_order():
    assert ROLE_RANK[OWNER] > ROLE_RANK[ADMIN] > ROLE_RANK[EDITOR] > ROLE_RANK[VIEWER]


@pytest.mark.parametrize(
    ("higher", "lower"),
    [
        pytest.param(h, lo, id=f"{h}>{lo}")
        for h, lo in itertools.permutations(Role, 2)
        if ROLE_RANK[h] > ROLE_RANK[lo]
    ],
)
def test_higher_role_can_do_everything_a_lower_can(higher, lower):
    for action in Action:
        if allowed(lower, action):
            assert allowed(higher, action), action


# --- member management -----------------------------------------------------------------

REFUSED = "refused"


@pytest.mark.parametrize(
    ("actor", "current", "new", "expected"),
    [
        # Who may manage members at all.
        pytest.param(EDITOR, VIEWER, EDITOR, REFUSED, id="editor-cannot-promote"),
        pytest.param(VIEWER, None, VIEWER, REFUSED, id="viewer-cannot-invite"),
        pytest.param(EDITOR, VIEWER, None, REFUSED, id="editor-cannot-remove"),
        # Admins manage strictly below themselves.
        pytest.param(ADMIN, None, VIEWER, None, id="admin-invites-viewer"),
        pytest.param(ADMIN, None, EDITOR, None, id="admin-invites-editor"),
        pytest.param(ADMIN, VIEWER, EDITOR, None, id="admin-promotes-viewer-to-editor"),
        pytest.param(ADMIN, EDITOR, VIEWER, None, id="admin-demotes-editor"),
        pytest.param(ADMIN, EDITOR, None, None, id="admin-removes-editor"),
        pytest.param(ADMIN, None, ADMIN, REFUSED, id="admin-cannot-invite-admin"),
        pytest.param(ADMIN, EDITOR, ADMIN, REFUSED, id="admin-cannot-grant-admin"),
        pytest.param(ADMIN, ADMIN, EDITOR, REFUSED, id="admin-cannot-demote-admin"),
        pytest.param(ADMIN, ADMIN, None, REFUSED, id="admin-cannot-remove-admin"),
        pytest.param(ADMIN, None, OWNER, REFUSED, id="admin-cannot-invite-owner"),
        pytest.param(ADMIN, EDITOR, OWNER, REFUSED, id="admin-cannot-grant-owner"),
        pytest.param(ADMIN, OWNER, ADMIN, REFUSED, id="admin-cannot-demote-owner"),
        pytest.param(ADMIN, OWNER, None, REFUSED, id="admin-cannot-remove-owner"),
        # Owners may do anything (the last-owner rule is checked separately).
        pytest.param(OWNER, None, OWNER, None, id="owner-invites-owner"),
        pytest.param(OWNER, ADMIN, OWNER, None, id="owner-grants-owner"),
        pytest.param(OWNER, EDITOR, ADMIN, None, id="owner-grants-admin"),
        pytest.param(OWNER, ADMIN, VIEWER, None, id="owner-demotes-admin"),
        pytest.param(OWNER, OWNER, ADMIN, None, id="owner-demotes-owner"),
        pytest.param(OWNER, OWNER, None, None, id="owner-removes-owner"),
        pytest.param(OWNER, VIEWER, None, None, id="owner-removes-viewer"),
        # Nothing to do.
        pytest.param(OWNER, None, None, REFUSED, id="no-current-no-new"),
    ],
)
def test_can_assign(actor, current, new, expected):
    reason = can_assign(actor, current, new)
    if expected is None:
        assert reason is None
    else:
        assert isinstance(reason, str)
        assert reason


def test_nobody_assigns_above_their_own_role():
    for actor, current, new in itertools.product(Role, [None, *Role], Role):
        if ROLE_RANK[new] > ROLE_RANK[actor]:
            assert can_assign(actor, current, new) is not None, (actor, current, new)


def test_only_owners_touch_owners():
    for actor, other in itertools.product(Role, [None, *Role]):
        if actor is not OWNER:
            assert can_assign(actor, other, OWNER) is not None
            assert can_assign(actor, OWNER, other) is not None


@pytest.mark.parametrize(
    ("owners_after", "refused"),
    [
        pytest.param(-1, True, id="negative"),
        pytest.param(0, True, id="none-left"),
        pytest.param(1, False, id="one-left"),
        pytest.param(3, False, id="several"),
    ],
)
def test_last_owner_violation(owners_after, refused):
    assert (last_owner_violation(owners_after) is not None) is refused


# --- API token scopes ------------------------------------------------------------------


def test_scope_table():
    expected = {
        "read": {Action.READ, Action.READ_STREAMS},
        "jobs:write": {Action.CREATE_JOB, Action.EDIT_JOB, Action.UPLOAD, Action.DELETE_SOURCE},
        "clips:write": {Action.EDIT_CLIP, Action.DELETE_CLIP, Action.MANAGE_BRAND},
        "publish": {Action.PUBLISH, Action.REQUEST_PUBLISH},
        "streams:write": {Action.MANAGE_STREAMS},
    }
    assert dict(SCOPES) == expected


def test_parse_scopes_accepts_known_and_dedupes():
    assert parse_scopes(["read", "publish", "read"]) == frozenset({"read", "publish"})
    assert parse_scopes([]) == frozenset()


def test_parse_scopes_names_every_unknown_scope():
    with pytest.raises(ValueError, match=r"unknown scopes: admin, write\b"):
        parse_scopes(["read", "write", "admin"])


def test_parse_scopes_refuses_a_bare_string():
    with pytest.raises(TypeError):
        parse_scopes("read")


@pytest.mark.parametrize(
    ("scopes", "action", "expected"),
    [
        pytest.param({"read"}, Action.READ, True, id="read-reads"),
        pytest.param({"read"}, Action.UPLOAD, False, id="read-cannot-upload"),
        pytest.param({"jobs:write"}, Action.UPLOAD, True, id="jobs-upload"),
        pytest.param({"jobs:write"}, Action.EDIT_JOB, True, id="jobs-edit"),
        pytest.param({"jobs:write"}, Action.READ, False, id="jobs-does-not-imply-read"),
        pytest.param({"clips:write"}, Action.DELETE_CLIP, True, id="clips-delete"),
        pytest.param({"clips:write"}, Action.CREATE_JOB, False, id="clips-cannot-create-job"),
        pytest.param({"publish"}, Action.PUBLISH, True, id="publish"),
        pytest.param(set(), Action.READ, False, id="no-scopes"),
        pytest.param({"bogus"}, Action.READ, False, id="unknown-scope-grants-nothing"),
    ],
)
def test_token_allows(scopes, action, expected):
    assert token_allows(frozenset(scopes), action) is expected


def test_tokens_never_do_machine_forbidden_actions():
    assert {
        Action.MANAGE_MEMBERS,
        Action.MANAGE_TOKENS,
        Action.DELETE_WORKSPACE,
        Action.TRANSFER_OWNERSHIP,
    } == MACHINE_FORBIDDEN
    every_scope = frozenset(SCOPES)
    for action in MACHINE_FORBIDDEN:
        assert not token_allows(every_scope, action)
        assert not allowed_with_token(OWNER, every_scope, action)
    for granted in SCOPES.values():
        assert not granted & MACHINE_FORBIDDEN


@pytest.mark.parametrize(
    ("role", "scopes", "action", "expected"),
    [
        pytest.param(ADMIN, {"publish"}, Action.PUBLISH, True, id="admin-with-scope"),
        pytest.param(EDITOR, {"publish"}, Action.PUBLISH, False, id="scope-cannot-exceed-role"),
        pytest.param(ADMIN, {"read"}, Action.PUBLISH, False, id="role-cannot-exceed-scope"),
        pytest.param(
            VIEWER, {"read", "jobs:write"}, Action.UPLOAD, False, id="viewer-token-no-upload"
        ),
        pytest.param(EDITOR, {"jobs:write"}, Action.CREATE_JOB, True, id="editor-creates-job"),
    ],
)
def test_allowed_with_token_needs_role_and_scope(role, scopes, action, expected):
    assert allowed_with_token(role, frozenset(scopes), action) is expected
