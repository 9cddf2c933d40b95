"""The workspace library: sources marked as B-roll or sound effects (``domain/library.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clipray.domain.ids import new_id
from clipray.domain.library import LibraryKind
from clipray.domain.time import utcnow
from clipray.storage.coltypes import UtcDateTime
from clipray.storage.orm.base import Base, str_enum


class LibraryItem(Base):
    """One source as material of one kind; a source is B-roll once and a sound once at most.
    Deleting the source deletes its items (the library holds no bytes of its own)."""

    __tablename__ = "library_items"
    __table_args__ = (
        UniqueConstraint("workspace_id", "source_id", "kind",
                         name="uq_library_items_workspace_source_kind"),
    )  # fmt: skip

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[str] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[LibraryKind] = mapped_column(str_enum(LibraryKind, "library_kind"))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Lower-case words (``normalise_tags``); matched against what a clip says."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
