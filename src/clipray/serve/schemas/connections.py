"""Connected platform accounts: what ``/api/auth/accounts`` and the consent routes answer.
No schema here has a field for a token: they cannot leak through a response."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from clipray.serve.schemas.common import Timestamp


class ConnectedAccountOut(BaseModel):
    id: str
    platform: Literal["youtube", "tiktok", "instagram", "x", "linkedin"]
    platform_account_id: str
    """The platform's own id (a YouTube channel id, a TikTok open_id)."""
    name: str
    """The channel or handle name people recognise."""
    scopes: list[str]
    status: Literal["active", "needs_reconnect", "revoked"]
    """``needs_reconnect``: the platform refused to refresh the tokens; connect it again."""
    created_at: Timestamp
    updated_at: Timestamp


class ConsentUrl(BaseModel):
    """The platform's consent page for a new connection (``Accept: application/json``)."""

    url: str
    expires_at: Timestamp
    """The consent must come back before this (the state is single use and short-lived)."""


class Disconnected(BaseModel):
    id: str
    status: Literal["revoked"]
    revoked_at_platform: bool
    """Whether the platform confirmed the revocation (tokens are deleted here either way)."""
