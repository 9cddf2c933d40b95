"""Workspaces and their members. Requests act in the workspace named by ``X-Workspace-Id``
(else the caller's personal one); these routes name the workspace in the path instead."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clipray.serve.deps import Principal, SessionDep, UserDep
from clipray.serve.errors import ApiError
from clipray.serve.permissions import Action, can_assign, last_owner_violation
from clipray.serve.schemas import MemberIn, MemberOut, MemberPatch, WorkspaceIn, WorkspaceOut
from clipray.storage.keys import is_id
from clipray.storage.orm import Role, User, Workspace, WorkspaceMember, new_id
from clipray.storage.repos import UserRepo, WorkspaceRepo

router = APIRouter(prefix="/api/workspaces", tags=["workspaces"])


def _in(session: Session, auth: tuple[User, object], workspace_id: str) -> Principal:
    user, api_token = auth
    if api_token is not None and api_token.workspace_id != workspace_id:  # type: ignore[attr-defined]
        raise ApiError(403, "WORKSPACE_FORBIDDEN", "an API token acts in its own workspace")
    if not is_id(workspace_id) or WorkspaceRepo(session).get(workspace_id) is None:
        raise ApiError(404, "WORKSPACE_NOT_FOUND", f"workspace {workspace_id} not found")
    role = WorkspaceRepo(session).role_of(workspace_id, user.id)
    if role is None:
        raise ApiError(403, "WORKSPACE_FORBIDDEN", "you are not a member of that workspace")
    scopes = frozenset(api_token.scopes) if api_token is not None else None  # type: ignore[attr-defined]
    return Principal(user, workspace_id, role, scopes)


def _member_out(session: Session, m: WorkspaceMember) -> MemberOut:
    user = UserRepo(session).get(m.user_id)
    return MemberOut(user_id=m.user_id, email=user.email if user else "", role=m.role)


@router.post("", status_code=201)
def create_workspace(body: WorkspaceIn, auth: UserDep, session: SessionDep) -> WorkspaceOut:
    """A new workspace with the caller as its owner."""
    user, api_token = auth
    if api_token is not None:
        raise ApiError(403, "FORBIDDEN_SCOPE", "API tokens cannot create workspaces")
    ws = WorkspaceRepo(session).create(f"w-{new_id()[:16]}", name=body.name, owner=user)
    return WorkspaceOut(id=ws.id, slug=ws.slug, name=ws.name, role=Role.OWNER)


@router.get("")
def list_workspaces(auth: UserDep, session: SessionDep) -> list[WorkspaceOut]:
    """The workspaces the caller is a member of, with the caller's role in each."""
    user, _ = auth
    rows = session.execute(
        select(Workspace, WorkspaceMember.role)
        .join(WorkspaceMember, WorkspaceMember.workspace_id == Workspace.id)
        .where(WorkspaceMember.user_id == user.id)
        .order_by(Workspace.created_at)
    ).all()
    return [WorkspaceOut(id=w.id, slug=w.slug, name=w.name, role=r) for w, r in rows]


@router.get("/{workspace_id}/members")
def list_members(workspace_id: str, auth: UserDep, session: SessionDep) -> list[MemberOut]:
    _in(session, auth, workspace_id).require(Action.READ)
    members = session.scalars(
        select(WorkspaceMember).where(WorkspaceMember.workspace_id == workspace_id)
        .order_by(WorkspaceMember.created_at)
    ).all()  # fmt: skip
    return [_member_out(session, m) for m in members]


def _owners(session: Session, workspace_id: str) -> int:
    return session.scalar(
        select(func.count()).select_from(WorkspaceMember).where(
            WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.role == Role.OWNER)
    ) or 0  # fmt: skip


def _change(session: Session, who: Principal, user_id: str, new: Role | None) -> MemberOut | None:
    who.require(Action.MANAGE_MEMBERS)
    repo = WorkspaceRepo(session)
    current = repo.role_of(who.workspace_id, user_id) if is_id(user_id) else None
    if current is None and new is None:
        raise ApiError(404, "MEMBER_NOT_FOUND", f"user {user_id} is not a member")
    reason = can_assign(who.role, current, new)
    if reason:
        raise ApiError(403, "FORBIDDEN_ROLE", reason)
    if current is Role.OWNER and new is not Role.OWNER:
        reason = last_owner_violation(_owners(session, who.workspace_id) - 1)
        if reason:
            raise ApiError(409, "LAST_OWNER", reason)
    if new is None:
        member = session.get(WorkspaceMember, (who.workspace_id, user_id))
        session.delete(member)
        session.flush()
        return None
    return _member_out(session, repo.add_member(who.workspace_id, user_id, new))


@router.post("/{workspace_id}/members", status_code=201)
def add_member(workspace_id: str, body: MemberIn, auth: UserDep, session: SessionDep) -> MemberOut:
    """Add a registered user by email with a role (admins and owners)."""
    who = _in(session, auth, workspace_id)
    who.require(Action.MANAGE_MEMBERS)
    user = UserRepo(session).by_email(body.email)
    if user is None:
        raise ApiError(404, "USER_NOT_FOUND", "no account with this email")
    if WorkspaceRepo(session).role_of(workspace_id, user.id) is not None:
        raise ApiError(409, "ALREADY_MEMBER", "this user is a member already")
    out = _change(session, who, user.id, body.role)
    assert out is not None
    return out


@router.patch("/{workspace_id}/members/{user_id}")
def change_member(workspace_id: str, user_id: str, body: MemberPatch, auth: UserDep,
                  session: SessionDep) -> MemberOut:  # fmt: skip
    who = _in(session, auth, workspace_id)
    if not is_id(user_id) or WorkspaceRepo(session).role_of(workspace_id, user_id) is None:
        raise ApiError(404, "MEMBER_NOT_FOUND", f"user {user_id} is not a member")
    out = _change(session, who, user_id, body.role)
    assert out is not None
    return out


@router.delete("/{workspace_id}/members/{user_id}", status_code=204)
def remove_member(workspace_id: str, user_id: str, auth: UserDep, session: SessionDep) -> Response:
    _change(session, _in(session, auth, workspace_id), user_id, None)
    return Response(status_code=204)
