"""Generated clips on the app-owned bucket, highlight reels, the keeper's sweeps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
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
    GeneratedKind,
    GeneratedStatus,
)
from clipray.domain.ids import new_id
from clipray.domain.time import utcnow
from clipray.storage.coltypes import UtcDateTime
from clipray.storage.orm.base import Base, str_enum


class GeneratedClip(Base):
    """A clip clipray generated: product output on the app-owned bucket, not the user's
    archive. It counts against no storage quota and expires unless kept or published.
    One row per candidate it came from (upserted, so a retried render reuses it)."""

    __tablename__ = "generated_clips"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[str | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL"), index=True
    )
    candidate_id: Mapped[str] = mapped_column(String(64), unique=True)
    """What it was generated from: a rendered moment (a ``clips`` row) or a highlight reel."""
    kind: Mapped[GeneratedKind] = mapped_column(
        str_enum(GeneratedKind, "generated_kind"), default=GeneratedKind.HEURISTIC
    )
    status: Mapped[GeneratedStatus] = mapped_column(
        str_enum(GeneratedStatus, "generated_status"), default=GeneratedStatus.AVAILABLE
    )
    storage_key: Mapped[str] = mapped_column(String(1024))
    """The video on the app-owned bucket; its sibling files (thumbnail, NLE) share the prefix."""
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    title: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    kept_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), default=utcnow, onupdate=utcnow
    )


class HighlightReel(Base):
    """A highlight reel asked for: its moments in order, and the work that makes it (one
    Ray task, driven by the job runner and claimed with an attempt number like an export).
    The reel itself is a generated clip (kind ``highlight-reel``), so retention applies."""

    __tablename__ = "highlight_reels"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200), default="")
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """``{"moments": [{"source_id", "start", "end"}, ...], "height": int | None}``."""
    status: Mapped[ExportStatus] = mapped_column(
        str_enum(ExportStatus, "reel_status"), default=ExportStatus.PENDING, index=True
    )
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped by each claim; only the latest claimant may record the outcome."""
    generated_clip_id: Mapped[str | None] = mapped_column(
        ForeignKey("generated_clips.id", ondelete="SET NULL")
    )
    method: Mapped[str | None] = mapped_column(String(16))
    """How the parts were joined: ``copy`` (concat by stream copy) or ``reencode``."""
    duration_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class KeeperSweep(Base):
    """When a periodic keeper (``retention``) last finished a sweep: durable, so that a
    restarted keeper sweeps at once when the last sweep is older than its interval."""

    __tablename__ = "keeper_sweeps"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    swept_at: Mapped[datetime] = mapped_column(UtcDateTime())
