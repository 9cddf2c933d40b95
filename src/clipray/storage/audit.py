"""The audit log's rows: added in the caller's transaction, read newest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clipray.domain.audit import Actor
from clipray.storage.orm import AuditEvent
from clipray.storage.repos import fetch_page


class AuditRepo:
    """One log: a workspace's, or the installation's (``workspace_id`` None)."""

    def __init__(self, session: Session, workspace_id: str | None) -> None:
        self.s = session
        self.workspace_id = workspace_id

    def add(self, actor: Actor, action: str, resource_type: str, resource_id: str,
            detail: dict[str, Any] | None = None) -> AuditEvent:  # fmt: skip
        row = AuditEvent(workspace_id=self.workspace_id, user_id=actor.user_id, action=action,
                         resource_type=resource_type, resource_id=resource_id, ip=actor.ip,
                         detail=detail)  # fmt: skip
        self.s.add(row)
        self.s.flush()
        return row

    def page(self, limit: int, offset: int, actions: Sequence[str] = ()
             ) -> tuple[list[AuditEvent], int]:  # fmt: skip
        q = select(AuditEvent).where(
            AuditEvent.workspace_id.is_(None) if self.workspace_id is None
            else AuditEvent.workspace_id == self.workspace_id
        )  # fmt: skip
        if actions:
            q = q.where(AuditEvent.action.in_(actions))
        return fetch_page(self.s, q, limit, offset, AuditEvent.at.desc(), AuditEvent.id.desc())
