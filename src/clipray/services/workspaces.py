"""Workspaces and their members: create, list, and add, change or remove a member's role.

The HTTP routes (``/api/workspaces``) call these. Other routes act in the workspace the
request names with ``X-Workspace-Id``; these name it in the path, so the caller's place in
it is resolved here (:func:`membership`). Who may give which role, and that a workspace
keeps an owner, are the pure rules of ``serve/permissions.py``.

    >>> who = membership(session, user, None, workspace_id)          # doctest: +SKIP
    >>> add_member(session, who, "grace@example.com", Role.EDITOR)   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clipray.domain.audit import SYSTEM, Actor, AuditAction
from clipray.domain.enums import Role
from clipray.domain.errors import Conflict, Forbidden, NotFound
from clipray.serve.permissions import Action, can_assign, last_owner_violation
from clipray.services import audit
from clipray.services.access import Membership
from clipray.storage.keys import is_id
from clipray.storage.orm import ApiToken, User, Workspace, WorkspaceMember, new_id
from clipray.storage.repos import UserRepo, WorkspaceRepo

__all__ = [
    "Member",
    "add_member",
    "change_member",
    "create_workspace",
    "list_members",
    "list_workspaces",
    "membership",
    "remove_member",
]


@dataclass(frozen=True)
class Member:
    """A member as clients see one: who, by email, with which role."""

    user_id: str
    email: str
    role: Role


def membership(session: Session, user: User, api_token: ApiToken | None,
               workspace_id: str) -> Membership:  # fmt: skip
    """The caller's place in the workspace named in the path.

    Raises:
        Forbidden: 403 ``WORKSPACE_FORBIDDEN`` (an API token of another workspace, or not
            a member).
        NotFound: 404 ``WORKSPACE_NOT_FOUND``.
    """
    if api_token is not None and api_token.workspace_id != workspace_id:
        raise Forbidden("WORKSPACE_FORBIDDEN", "an API token acts in its own workspace")
    repo = WorkspaceRepo(session)
    if not is_id(workspace_id) or repo.get(workspace_id) is None:
        raise NotFound("WORKSPACE_NOT_FOUND", f"workspace {workspace_id} not found")
    role = repo.role_of(workspace_id, user.id)
    if role is None:
        raise Forbidden("WORKSPACE_FORBIDDEN", "you are not a member of that workspace")
    scopes = frozenset(api_token.scopes) if api_token is not None else None
    return Membership(workspace_id, role, scopes)


def create_workspace(session: Session, user: User, api_token: ApiToken | None,
                     name: str) -> Workspace:  # fmt: skip
    """A new workspace with ``user`` as its owner. Raises Forbidden 403
    ``FORBIDDEN_SCOPE`` for an API token: a token acts in its own workspace only."""
    if api_token is not None:
        raise Forbidden("FORBIDDEN_SCOPE", "API tokens cannot create workspaces")
    return WorkspaceRepo(session).create(f"w-{new_id()[:16]}", name=name, owner=user)


def list_workspaces(session: Session, user_id: str) -> list[tuple[Workspace, Role]]:
    """The workspaces the user is a member of, oldest first, with the user's role in each."""
    rows = session.execute(
        select(Workspace, WorkspaceMember.role)
        .join(WorkspaceMember, WorkspaceMember.workspace_id == Workspace.id)
        .where(WorkspaceMember.user_id == user_id)
        .order_by(Workspace.created_at)
    ).all()
    return [(w, r) for w, r in rows]


def _member(session: Session, m: WorkspaceMember) -> Member:
    user = UserRepo(session).get(m.user_id)
    return Member(m.user_id, user.email if user else "", m.role)


def list_members(session: Session, who: Membership) -> list[Member]:
    """The workspace's members, in the order they joined (any member may read them)."""
    who.require(Action.READ)
    members = session.scalars(
        select(WorkspaceMember).where(WorkspaceMember.workspace_id == who.workspace_id)
        .order_by(WorkspaceMember.created_at)
    ).all()  # fmt: skip
    return [_member(session, m) for m in members]


def _owners(session: Session, workspace_id: str) -> int:
    return session.scalar(
        select(func.count()).select_from(WorkspaceMember).where(
            WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.role == Role.OWNER)
    ) or 0  # fmt: skip


def _change(session: Session, who: Membership, user_id: str, new: Role | None,
            actor: Actor, action: AuditAction) -> Member | None:  # fmt: skip
    """Give ``user_id`` the role ``new`` (None: remove them), as ``who`` may."""
    who.require(Action.MANAGE_MEMBERS)
    repo = WorkspaceRepo(session)
    current = repo.role_of(who.workspace_id, user_id) if is_id(user_id) else None
    if current is None and new is None:
        raise NotFound("MEMBER_NOT_FOUND", f"user {user_id} is not a member")
    reason = can_assign(who.role, current, new)
    if reason:
        raise Forbidden("FORBIDDEN_ROLE", reason)
    if current is Role.OWNER and new is not Role.OWNER:
        reason = last_owner_violation(_owners(session, who.workspace_id) - 1)
        if reason:
            raise Conflict("LAST_OWNER", reason)
    audit.record(session, actor, who.workspace_id, action, "member", user_id,
                 {"role": new.value if new else None,
                  "was": current.value if current else None})  # fmt: skip
    if new is None:
        session.delete(session.get(WorkspaceMember, (who.workspace_id, user_id)))
        session.flush()
        return None
    return _member(session, repo.add_member(who.workspace_id, user_id, new))


def add_member(session: Session, who: Membership, email: str, role: Role,
               actor: Actor = SYSTEM) -> Member:  # fmt: skip
    """Add a registered user by email with ``role`` (admins and owners, within their rank).

    Raises:
        Forbidden: 403 ``FORBIDDEN_ROLE``/``FORBIDDEN_SCOPE``.
        NotFound: 404 ``USER_NOT_FOUND``.
        Conflict: 409 ``ALREADY_MEMBER``.
    """
    who.require(Action.MANAGE_MEMBERS)
    user = UserRepo(session).by_email(email)
    if user is None:
        raise NotFound("USER_NOT_FOUND", "no account with this email")
    if WorkspaceRepo(session).role_of(who.workspace_id, user.id) is not None:
        raise Conflict("ALREADY_MEMBER", "this user is a member already")
    added = _change(session, who, user.id, role, actor, AuditAction.MEMBER_ADDED)
    assert added is not None
    return added


def change_member(session: Session, who: Membership, user_id: str, role: Role,
                  actor: Actor = SYSTEM) -> Member:  # fmt: skip
    """Give a member another role.

    Raises:
        NotFound: 404 ``MEMBER_NOT_FOUND`` (checked before the caller's rights).
        Forbidden: 403 ``FORBIDDEN_ROLE``/``FORBIDDEN_SCOPE``.
        Conflict: 409 ``LAST_OWNER`` for the last owner's own demotion.
    """
    if not is_id(user_id) or WorkspaceRepo(session).role_of(who.workspace_id, user_id) is None:
        raise NotFound("MEMBER_NOT_FOUND", f"user {user_id} is not a member")
    changed = _change(session, who, user_id, role, actor, AuditAction.MEMBER_ROLE_CHANGED)
    assert changed is not None
    return changed


def remove_member(session: Session, who: Membership, user_id: str, actor: Actor = SYSTEM
                  ) -> None:  # fmt: skip
    """Remove a member (or oneself); the same refusals as :func:`change_member`."""
    _change(session, who, user_id, None, actor, AuditAction.MEMBER_REMOVED)
