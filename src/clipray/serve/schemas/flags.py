"""Feature flags as the admin API shows and takes them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from clipray.serve.schemas.common import Body, Timestamp


class FlagOut(BaseModel):
    """One flag in one scope: ``workspace_id`` null is global. A global flag nobody set
    reads ``enabled: true`` with ``updated_by``/``updated_at`` null."""

    name: str
    enabled: bool
    workspace_id: str | None
    updated_by: str | None
    updated_at: Timestamp | None


class FlagPatch(Body):
    name: str = Field(min_length=1, max_length=64)
    """``publish.<platform>``: ``publish.youtube``, ``publish.tiktok``, ``publish.instagram``,
    ``publish.x``, ``publish.linkedin`` (another name is 422 ``FLAG_UNKNOWN``)."""
    enabled: bool | None
    """On or off; null clears the scope's setting (a workspace follows the global flag
    again, a global flag is on again)."""
    workspace_id: str | None = Field(default=None, max_length=32)
    """null: for every workspace; a workspace's id: for that workspace only (it wins over
    the global setting)."""
