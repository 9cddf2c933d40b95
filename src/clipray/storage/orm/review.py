"""Virtual clips: groups, clips, cut edits, exports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

# The vocabulary lives in clipray.domain; re-exported for storage's callers.
from clipray.domain.enums import (
    ExportStatus,
    ReviewStatus,
)
from clipray.domain.ids import new_id
from clipray.domain.time import utcnow
from clipray.storage.coltypes import UtcDateTime
from clipray.storage.orm.base import Base, str_enum


class ClipGroup(Base):
    """Clips of one source grouped for shared metadata (a series, a topic, a post)."""

    __tablename__ = "clip_groups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    hashtags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class VirtualClip(Base):
    """Frames ``[start_frame, end_frame)`` of a source: a clip that is only cut points.

    The live clips of a source cover it with no gap and no overlap (``clips.cuts``). A cut
    operation never changes a row's frames: it archives the replaced clips (``live`` False)
    and adds new ones, so undo brings the old rows back as they were.
    """

    __tablename__ = "virtual_clips"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    start_frame: Mapped[int] = mapped_column(Integer)
    end_frame: Mapped[int] = mapped_column(Integer)
    live: Mapped[bool] = mapped_column(Boolean, default=True)
    """In the source's current cover; False once a cut operation replaced it."""
    review: Mapped[ReviewStatus] = mapped_column(
        str_enum(ReviewStatus, "review_status"), default=ReviewStatus.PENDING_REVIEW
    )
    group_id: Mapped[str | None] = mapped_column(
        ForeignKey("clip_groups.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class CutEdit(Base):
    """The audit trail of a source's cover: one row per operation (undo included)."""

    __tablename__ = "cut_edits"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    op: Mapped[str] = mapped_column(String(16))
    """``add``, ``remove``, ``move`` or ``undo``."""
    frame: Mapped[int | None] = mapped_column(Integer)
    to_frame: Mapped[int | None] = mapped_column(Integer)
    cuts_before: Mapped[list[int]] = mapped_column(JSON, default=list)
    cuts_after: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    archived_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer)
    """The source's ``cut_version`` after this operation."""
    undo_of: Mapped[str | None] = mapped_column(String(32))
    undone: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ClipExport(Base):
    """The file of one approved virtual clip. A clip's frames never change (edits make new
    clips), so one export per clip is all there is: exporting again reuses it."""

    __tablename__ = "clip_exports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    clip_id: Mapped[str] = mapped_column(
        ForeignKey("virtual_clips.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[ExportStatus] = mapped_column(
        str_enum(ExportStatus, "export_status"), default=ExportStatus.PENDING
    )
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped by each claim; only the latest claimant may record the outcome."""
    method: Mapped[str | None] = mapped_column(String(16))
    """``copy`` (stream copy from the proxy) or ``reencode`` (where copy could not be exact)."""
    key: Mapped[str | None] = mapped_column(String(1024))
    frames: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
