"""Workspaces and members through ``services/workspaces.py``, on SQLite and PostgreSQL:
the refusals the routes answer with, in the order the routes have always checked them."""

from __future__ import annotations

import pytest

from clipray.domain.enums import Role
from clipray.domain.errors import CodedError
from clipray.services import workspaces
from clipray.storage.accounts import ApiTokenRepo
from clipray.storage.orm import new_id
from clipray.storage.repos import UserRepo


def _user(session, name):
    return UserRepo(session).create(f"{name}-{new_id()[:8]}@example.com", name)


def _refused(call, code, status):
    with pytest.raises(CodedError) as exc:
        call()
    assert (exc.value.code, exc.value.status) == (code, status), exc.value.message
    return exc.value


def test_members_flow_and_refusals(session):
    owner, ada, bob = _user(session, "owner"), _user(session, "ada"), _user(session, "bob")
    ws = workspaces.create_workspace(session, owner, None, "team")
    assert [(w.id, r) for w, r in workspaces.list_workspaces(session, owner.id)] == [
        (ws.id, Role.OWNER)
    ]
    mine = workspaces.membership(session, owner, None, ws.id)
    assert (mine.workspace_id, mine.role, mine.scopes) == (ws.id, Role.OWNER, None)

    added = workspaces.add_member(session, mine, ada.email, Role.VIEWER)
    assert (added.user_id, added.email, added.role) == (ada.id, ada.email, Role.VIEWER)
    _refused(lambda: workspaces.add_member(session, mine, ada.email, Role.EDITOR),
             "ALREADY_MEMBER", 409)  # fmt: skip
    _refused(lambda: workspaces.add_member(session, mine, "nobody@example.com", Role.VIEWER),
             "USER_NOT_FOUND", 404)  # fmt: skip

    viewer = workspaces.membership(session, ada, None, ws.id)
    assert [m.user_id for m in workspaces.list_members(session, viewer)] == [owner.id, ada.id]
    # A missing member is 404 before the viewer's own rights are looked at.
    _refused(lambda: workspaces.change_member(session, viewer, bob.id, Role.EDITOR),
             "MEMBER_NOT_FOUND", 404)  # fmt: skip
    _refused(lambda: workspaces.change_member(session, viewer, owner.id, Role.VIEWER),
             "FORBIDDEN_ROLE", 403)  # fmt: skip
    _refused(lambda: workspaces.change_member(session, mine, owner.id, Role.ADMIN),
             "LAST_OWNER", 409)  # fmt: skip

    promoted = workspaces.change_member(session, mine, ada.id, Role.EDITOR)
    assert promoted.role is Role.EDITOR
    workspaces.remove_member(session, mine, ada.id)
    assert [m.user_id for m in workspaces.list_members(session, mine)] == [owner.id]
    _refused(lambda: workspaces.remove_member(session, mine, ada.id), "MEMBER_NOT_FOUND", 404)
    _refused(lambda: workspaces.membership(session, ada, None, ws.id), "WORKSPACE_FORBIDDEN",
             403)  # fmt: skip


def test_membership_of_a_path_workspace(session):
    owner, other = _user(session, "owner"), _user(session, "other")
    ws = workspaces.create_workspace(session, owner, None, "team")
    elsewhere = workspaces.create_workspace(session, other, None, "elsewhere")
    _refused(lambda: workspaces.membership(session, owner, None, new_id()),
             "WORKSPACE_NOT_FOUND", 404)  # fmt: skip
    _refused(lambda: workspaces.membership(session, owner, None, "../etc"),
             "WORKSPACE_NOT_FOUND", 404)  # fmt: skip
    token = ApiTokenRepo(session).create(owner.id, ws.id, "ci", "h" * 64, ["read"])
    scoped = workspaces.membership(session, owner, token, ws.id)
    assert scoped.scopes == frozenset({"read"})
    _refused(lambda: workspaces.membership(session, owner, token, elsewhere.id),
             "WORKSPACE_FORBIDDEN", 403)  # fmt: skip
    _refused(lambda: workspaces.create_workspace(session, owner, token, "more"),
             "FORBIDDEN_SCOPE", 403)  # fmt: skip
