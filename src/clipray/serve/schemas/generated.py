"""Generated clips: the rendered files in the app-owned bucket, with their retention."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from clipray.serve.schemas.common import Timestamp


class GeneratedOrigin(BaseModel):
    """What a generated clip was made from: a rendered clip, a highlight reel or a live
    stream."""

    type: Literal["clip", "reel", "stream"]
    id: str
    """``/api/clips/{id}`` for a clip, ``/api/highlights/jobs/{id}`` for a reel,
    ``/api/streams/{id}`` for a stream."""


class GeneratedClipOut(BaseModel):
    id: str
    source_id: str | None
    candidate_id: str
    """The rendered clip (``/api/clips/{id}``) or highlight reel it was generated from, or
    the stream window (``{stream id}:{window}``) of a stream clip."""
    origin: GeneratedOrigin
    """``candidate_id`` with its type, so a client follows the link without guessing."""
    kind: Literal["heuristic", "llm-ranked", "highlight-reel", "stream"]
    status: Literal["available", "kept", "published", "purged"]
    title: str
    size_bytes: int
    duration_s: float
    expires_at: Timestamp | None
    expires_in_days: float | None
    """Days until it is purged; None for a kept or published clip (it never expires)."""
    kept_at: Timestamp | None
    published_at: Timestamp | None
    created_at: Timestamp
