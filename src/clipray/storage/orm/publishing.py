"""Publishing: the platform accounts a workspace connected, and the OAuth consent flows in
progress.

Tokens are stored only as Fernet ciphertext (``storage/vault.py``), with the id of the key
that encrypted them, so that a key rotation can tell which rows still need re-encrypting.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clipray.domain.enums import ConnectionStatus
from clipray.domain.ids import new_id
from clipray.domain.time import utcnow
from clipray.storage.coltypes import UtcDateTime
from clipray.storage.orm.base import Base, str_enum


class ConnectedAccount(Base):
    """One platform account (a YouTube channel, a TikTok user) connected to a workspace.
    Connecting the same platform account again updates this row instead of adding one."""

    __tablename__ = "connected_accounts"
    __table_args__ = (
        UniqueConstraint("workspace_id", "platform", "platform_account_id",
                         name="uq_connected_accounts_workspace_platform_account"),
    )  # fmt: skip

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    connected_by: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    """The user who went through the consent (None once that user is deleted)."""
    platform: Mapped[str] = mapped_column(String(16))
    platform_account_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300), default="")
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[ConnectionStatus] = mapped_column(
        str_enum(ConnectionStatus, "connection_status"), default=ConnectionStatus.ACTIVE
    )
    access_token_enc: Mapped[str | None] = mapped_column(Text)
    """Fernet ciphertext of the access token; None once revoked."""
    refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    key_version: Mapped[str | None] = mapped_column(String(16))
    """Id of the Fernet key that encrypted the tokens (first 8 hex of its sha256)."""
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """What the platform needs besides the tokens (``Tokens.extra``, ``AccountInfo.extra``)."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class OAuthState(Base):
    """One consent flow in progress: the ``state`` sent to the platform (stored hashed),
    bound to the user, workspace and platform that started it. Single use, short-lived."""

    __tablename__ = "oauth_states"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(16))
    verifier_enc: Mapped[str | None] = mapped_column(Text)
    """Fernet ciphertext of the PKCE code verifier (None where the platform has no PKCE)."""
    key_version: Mapped[str | None] = mapped_column(String(16))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    """The redirect URI of the consent request: the code exchange must repeat it."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
