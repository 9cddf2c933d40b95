"""The audit log as the API shows it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from clipray.serve.schemas.common import Timestamp


class AuditEventOut(BaseModel):
    """One user-facing action: who (``user_id``; null for clipray itself), from where
    (``ip``; null off HTTP), what (``action``), on which resource, when."""

    id: str
    action: str
    user_id: str | None
    ip: str | None
    resource_type: str
    resource_id: str
    detail: dict[str, Any] | None
    at: Timestamp
