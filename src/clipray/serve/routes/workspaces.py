"""Workspaces and their members. Requests act in the workspace named by ``X-Workspace-Id``
(else the caller's personal one); these routes name the workspace in the path instead.

Routes parse, call ``services/workspaces.py`` and format."""

from __future__ import annotations

from fastapi import APIRouter, Response

from clipray.serve.deps import ActorDep, SessionDep, UserDep
from clipray.serve.schemas import MemberIn, MemberOut, MemberPatch, WorkspaceIn, WorkspaceOut
from clipray.services import workspaces
from clipray.services.workspaces import Member
from clipray.storage.orm import Role

router = APIRouter(prefix="/api/workspaces", tags=["workspaces"])


def _member_out(m: Member) -> MemberOut:
    return MemberOut(user_id=m.user_id, email=m.email, role=m.role)


@router.post("", status_code=201)
def create_workspace(body: WorkspaceIn, auth: UserDep, session: SessionDep) -> WorkspaceOut:
    """A new workspace with the caller as its owner."""
    user, api_token = auth
    ws = workspaces.create_workspace(session, user, api_token, body.name)
    return WorkspaceOut(id=ws.id, slug=ws.slug, name=ws.name, role=Role.OWNER)


@router.get("")
def list_workspaces(auth: UserDep, session: SessionDep) -> list[WorkspaceOut]:
    """The workspaces the caller is a member of, with the caller's role in each."""
    user, _ = auth
    return [WorkspaceOut(id=w.id, slug=w.slug, name=w.name, role=r)
            for w, r in workspaces.list_workspaces(session, user.id)]  # fmt: skip


@router.get("/{workspace_id}/members")
def list_members(workspace_id: str, auth: UserDep, session: SessionDep) -> list[MemberOut]:
    who = workspaces.membership(session, *auth, workspace_id)
    return [_member_out(m) for m in workspaces.list_members(session, who)]


@router.post("/{workspace_id}/members", status_code=201)
def add_member(workspace_id: str, body: MemberIn, auth: UserDep, session: SessionDep,
               actor: ActorDep) -> MemberOut:  # fmt: skip
    """Add a registered user by email with a role (admins and owners)."""
    who = workspaces.membership(session, *auth, workspace_id)
    return _member_out(workspaces.add_member(session, who, body.email, body.role, actor))


@router.patch("/{workspace_id}/members/{user_id}")
def change_member(workspace_id: str, user_id: str, body: MemberPatch, auth: UserDep,
                  session: SessionDep, actor: ActorDep) -> MemberOut:  # fmt: skip
    who = workspaces.membership(session, *auth, workspace_id)
    return _member_out(workspaces.change_member(session, who, user_id, body.role, actor))


@router.delete("/{workspace_id}/members/{user_id}", status_code=204)
def remove_member(workspace_id: str, user_id: str, auth: UserDep, session: SessionDep,
                  actor: ActorDep) -> Response:  # fmt: skip
    who = workspaces.membership(session, *auth, workspace_id)
    workspaces.remove_member(session, who, user_id, actor)
    return Response(status_code=204)
