"""Feature flags as stored: one row per flag and scope (``domain/flags.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clipray.domain.ids import new_id
from clipray.domain.time import utcnow
from clipray.storage.coltypes import UtcDateTime
from clipray.storage.orm.base import Base

_SCOPE_RULE = ("(scope = 'global' AND workspace_id IS NULL) OR "
               "(workspace_id IS NOT NULL AND scope = workspace_id)")  # fmt: skip


class FeatureFlag(Base):
    """A flag set globally (``scope`` ``'global'``, no workspace) or for one workspace
    (``scope`` is its id). ``scope`` carries the uniqueness (a NULL workspace would not be
    unique on either backend); ``workspace_id`` carries the foreign key, so a workspace's
    flags go with it. A flag without a row is on."""

    __tablename__ = "feature_flags"
    __table_args__ = (
        UniqueConstraint("scope", "name", name="uq_feature_flags_scope_name"),
        CheckConstraint(_SCOPE_RULE, name="scope_matches_workspace"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    scope: Mapped[str] = mapped_column(String(32))
    workspace_id: Mapped[str | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
