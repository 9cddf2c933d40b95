"""The audit log: record a user-facing action with the change it describes, and read a
workspace's log (admins).

A service that changes a workspace on a person's behalf calls :func:`record` in the same
session as the change, so the row commits or rolls back with it. ``workspace_id`` None
records in the installation's log (:func:`installation_page`, for its owner).

    record(session, actor, workspace_id, AuditAction.JOB_CREATED, "job", job.id)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from clipray.domain.audit import Actor, AuditAction
from clipray.storage.audit import AuditRepo
from clipray.storage.db import Database
from clipray.storage.orm import AuditEvent


def record(session: Session, actor: Actor, workspace_id: str | None, action: AuditAction,
           resource_type: str, resource_id: str, detail: dict[str, Any] | None = None
           ) -> AuditEvent:  # fmt: skip
    return AuditRepo(session, workspace_id).add(actor, action.value, resource_type,
                                                resource_id, detail)  # fmt: skip


def page(db: Database, workspace_id: str, limit: int, offset: int,
         actions: Sequence[AuditAction] = ()) -> tuple[list[AuditEvent], int]:  # fmt: skip
    """The workspace's log, newest first, optionally only some actions."""
    with db.session() as s:
        return AuditRepo(s, workspace_id).page(limit, offset, [a.value for a in actions])


def installation_page(db: Database, limit: int, offset: int, actions: Sequence[AuditAction] = ()
                      ) -> tuple[list[AuditEvent], int]:  # fmt: skip
    """The installation's own log (rows of no workspace), newest first."""
    with db.session() as s:
        return AuditRepo(s, None).page(limit, offset, [a.value for a in actions])
