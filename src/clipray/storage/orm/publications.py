"""Publications: one clip posted (or to be posted) to one connected account."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clipray.domain.ids import new_id
from clipray.domain.publications import OPEN, ClipKind, PublicationStatus
from clipray.domain.time import utcnow
from clipray.storage.coltypes import UtcDateTime
from clipray.storage.orm.base import Base, str_enum

_OPEN_SQL = "status IN (" + ", ".join(f"'{s.value}'" for s in sorted(OPEN)) + ")"


class Publication(Base):
    """One clip to one connected account: requested, scheduled or due, claimed by the
    publisher (``attempt`` bumped by each claim; only the latest claimant records the
    outcome), retried after ``not_before``, and finally published with the platform's post id
    and URL, or failed with a code."""

    __tablename__ = "publications"
    __table_args__ = (
        # At most one open publication of a clip to an account.
        Index("uq_publications_open_clip_account", "clip_id", "account_id", unique=True,
              sqlite_where=_OPEN_SQL, postgresql_where=_OPEN_SQL),
        # A request repeated with the same Idempotency-Key returns what the first one made.
        UniqueConstraint("workspace_id", "idempotency_key", "clip_id", "account_id",
                         name="uq_publications_idempotency"),
    )  # fmt: skip

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    clip_id: Mapped[str] = mapped_column(String(32))
    """A rendered clip's id or a generated clip's id, per ``clip_kind``."""
    clip_kind: Mapped[ClipKind] = mapped_column(str_enum(ClipKind, "publication_clip_kind"))
    account_id: Mapped[str | None] = mapped_column(
        ForeignKey("connected_accounts.id", ondelete="SET NULL"), index=True
    )
    """The connected account posted to (None once it was disconnected: the record stays)."""
    platform: Mapped[str] = mapped_column(String(16))
    status: Mapped[PublicationStatus] = mapped_column(
        str_enum(PublicationStatus, "publication_status"), index=True
    )
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    """Title, description, hashtags and privacy as asked (formatted per platform on upload)."""
    scheduled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    not_before: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    """When it may be claimed (next): now, ``scheduled_at``, or after a retry's backoff."""
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    requested_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    """The admin or owner who approved or rejected an editor's request."""
    platform_post_id: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(2048))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    stats: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    """Views, likes and comments as last pulled from the platform."""
    stats_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
