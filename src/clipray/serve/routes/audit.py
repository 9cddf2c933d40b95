"""The workspace's audit log (admins): who created jobs, kept clips, changed members, edited
cuts, from which address and when; and the installation's own log (its owner): global flags
switched, inbound webhooks refused. Routes parse, call ``services/audit.py`` and format."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from clipray.domain.audit import AuditAction
from clipray.serve.deps import Caller, InstallOwner, PageNo, PageSize, ServicesDep
from clipray.serve.permissions import Action
from clipray.serve.schemas import Page
from clipray.serve.schemas.audit import AuditEventOut
from clipray.services import audit
from clipray.storage.orm import AuditEvent

router = APIRouter(prefix="/api/audit", tags=["audit"])
admin_router = APIRouter(prefix="/api/admin/audit", tags=["admin"])
Actions = Annotated[list[AuditAction] | None, Query(max_length=20)]


def event_out(r: AuditEvent) -> AuditEventOut:
    return AuditEventOut(id=r.id, action=r.action, user_id=r.user_id, ip=r.ip,
                         resource_type=r.resource_type, resource_id=r.resource_id,
                         detail=r.detail, at=r.at)  # fmt: skip


@router.get("")
def list_audit(
    who: Caller,
    svc: ServicesDep,
    action: Actions = None,
    page: PageNo = 1,
    limit: PageSize = 50,
) -> Page[AuditEventOut]:
    """The workspace's audit log, newest first; ``action`` (repeatable) keeps only those
    actions. Admins and owners."""
    who.require(Action.READ_AUDIT)
    rows, total = audit.page(svc.db, who.workspace_id, limit, (page - 1) * limit, action or ())
    return Page[AuditEventOut].of([event_out(r) for r in rows], total, page, limit)


@admin_router.get("")
def installation_audit(
    owner: InstallOwner,
    svc: ServicesDep,
    action: Actions = None,
    page: PageNo = 1,
    limit: PageSize = 50,
) -> Page[AuditEventOut]:
    """The installation's own log, newest first: global flags switched (``flag.changed``)
    and inbound webhooks refused (``webhook.refused``: ``resource_id`` the platform, ``ip``
    the sender, ``detail.code`` and ``detail.reason`` why). The installation's owner only."""
    rows, total = audit.installation_page(svc.db, limit, (page - 1) * limit, action or ())
    return Page[AuditEventOut].of([event_out(r) for r in rows], total, page, limit)
