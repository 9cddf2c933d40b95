"""The workspace's audit log (admins): who created jobs, kept clips, changed members, edited
cuts, from which address and when. Routes parse, call ``services/audit.py`` and format."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from clipray.domain.audit import AuditAction
from clipray.serve.deps import Caller, PageNo, PageSize, ServicesDep
from clipray.serve.permissions import Action
from clipray.serve.schemas import Page
from clipray.serve.schemas.audit import AuditEventOut
from clipray.services import audit

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("")
def list_audit(
    who: Caller,
    svc: ServicesDep,
    action: Annotated[list[AuditAction] | None, Query(max_length=20)] = None,
    page: PageNo = 1,
    limit: PageSize = 50,
) -> Page[AuditEventOut]:
    """The workspace's audit log, newest first; ``action`` (repeatable) keeps only those
    actions. Admins and owners."""
    who.require(Action.READ_AUDIT)
    rows, total = audit.page(svc.db, who.workspace_id, limit, (page - 1) * limit, action or ())
    data = [AuditEventOut(id=r.id, action=r.action, user_id=r.user_id, ip=r.ip,
                          resource_type=r.resource_type, resource_id=r.resource_id,
                          detail=r.detail, at=r.at) for r in rows]  # fmt: skip
    return Page[AuditEventOut].of(data, total, page, limit)
