"""Brand kits as stored: one row per kit of a workspace (``domain/brand.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from clipray.domain.brand import BrandKit as Kit
from clipray.domain.ids import new_id
from clipray.domain.time import utcnow
from clipray.storage.coltypes import UtcDateTime
from clipray.storage.orm.base import Base


class BrandKitRow(Base):
    """A kit. ``*_key`` are keys on the workspace's media bucket; ``font_name`` is the
    uploaded font's file name as its uploader called it (shown, never used as a path). The
    intro and outro are the workspace's sources: deleting one takes it out of the kit."""

    __tablename__ = "brand_kits"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(80))
    logo_key: Mapped[str | None] = mapped_column(String(1024))
    logo_position: Mapped[str] = mapped_column(String(16), default="top_right")
    logo_size: Mapped[float] = mapped_column(Float, default=0.15)
    logo_opacity: Mapped[float] = mapped_column(Float, default=0.9)
    primary_color: Mapped[str] = mapped_column(String(7), default="#FFFFFF")
    accent_color: Mapped[str] = mapped_column(String(7), default="#FFD400")
    background_color: Mapped[str] = mapped_column(String(7), default="#101014")
    font_family: Mapped[str | None] = mapped_column(String(80))
    font_key: Mapped[str | None] = mapped_column(String(1024))
    font_name: Mapped[str | None] = mapped_column(String(255))
    background_key: Mapped[str | None] = mapped_column(String(1024))
    intro_source_id: Mapped[str | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL")
    )
    outro_source_id: Mapped[str | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    def to_kit(self) -> Kit:
        """The kit as the vocabulary (and the render) knows it."""
        return Kit(self.id, self.workspace_id, self.name, self.logo_key,
                   self.logo_position,  # type: ignore[arg-type]
                   self.logo_size, self.logo_opacity, self.primary_color, self.accent_color,
                   self.background_color, self.font_family, self.font_key,
                   self.background_key, self.intro_source_id,
                   self.outro_source_id)  # fmt: skip
