"""Rendered clips."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from clipray.serve.schemas.common import (
    Aspect,
    Body,
    CaptionStyle,
    Description,
    HookText,
    Layout,
    ReviewName,
    Timestamp,
    Title,
    ZoomStyle,
)
from clipray.serve.schemas.jobs import BrandKitId, Censor, MusicKey, SafeArea


class ClipSettings(BaseModel):
    """A version's layout and effects, as asked for (read back from its render spec), in
    the shape ``POST /api/clips/{id}/rerender`` takes them."""

    layout: Layout
    zooms: ZoomStyle | None
    hook: str | None
    remove_fillers: bool
    censor: Censor | None
    denoise: bool
    music: str | None
    transition: Literal["crossfade", "wipe", "zoom"] | None
    broll: bool
    sfx: bool
    brand_kit_id: str | None
    emoji: bool
    safe_area: SafeArea | None
    """None where the captions keep their plain margins (not 9:16, or no captions)."""
    beat_sync: bool


class ClipOut(BaseModel):
    id: str
    job_id: str | None
    source_id: str
    moment_id: str
    start: float
    end: float
    score: float
    title: str
    description: str
    hashtags: list[str]
    reasons: list[str]
    status: str
    version: int
    aspect: str | None = None
    """The version's aspect and caption style (from its render spec): what tells versions
    apart."""
    captions: str | None = None
    settings: ClipSettings | None = None
    """The version's layout and effects (what a re-render starts from); None for a clip
    recorded before its render spec."""
    error: str | None
    review: ReviewName = "pending_review"
    """Where a reviewer put this version: pending_review, approved, skipped, archived."""
    reviewed_at: Timestamp | None = None
    generated_clip_id: str | None = None
    """The generated clip this render is (``/api/generated-clips/{id}``); None until it is
    rendered, and again once retention purged it."""
    created_at: Timestamp


class ClipPatch(Body):
    """Every field optional; an absent one is kept."""

    title: Title | None = None
    description: Description | None = None
    review: ReviewName | None = None


class DownloadUrl(BaseModel):
    """A short-lived presigned URL of one of a clip's files."""

    file: str
    url: str


class RerenderIn(Body):
    aspect: Aspect | None = None
    captions: CaptionStyle | None = None
    layout: Layout | None = None
    zooms: ZoomStyle | Literal["none"] | None = None
    """A zoom style, or ``none`` to take zooms off; null keeps the clip's own."""
    hook: HookText | Literal[""] | None = None
    """A hook's text (``auto``: the clip's title), ``""`` to take it off; null keeps it."""
    remove_fillers: bool | None = None
    """Filler and silence removal on or off; null keeps the clip's own."""
    censor: Censor | None = None
    """Words to censor instead of the clip's own (no words: none); null keeps the clip's."""
    denoise: bool | None = None
    """Denoising on or off; null keeps the clip's own."""
    music: MusicKey | Literal[""] | None = None
    """A music track's object key, ``""`` to take it off; null keeps the clip's own."""
    transition: Literal["none", "crossfade", "wipe", "zoom"] | None = None
    """How the cut's parts join (``none``: straight cuts); null keeps the clip's own."""
    broll: bool | None = None
    """B-roll from the workspace's library on or off; null keeps the clip's own."""
    sfx: bool | None = None
    """Sound effects from the workspace's library on or off; null keeps the clip's own."""
    brand_kit_id: BrandKitId | Literal[""] | None = None
    """A brand kit of the workspace, ``""`` to take the brand off; null keeps the clip's own."""
    emoji: bool | None = None
    """Emoji in the captions on or off; null keeps the clip's own."""
    safe_area: SafeArea | None = None
    """The captions' platform safe area (9:16); null keeps the clip's own."""
    beat_sync: bool | None = None
    """Cuts on the music's beats on or off (on needs music); null keeps the clip's own."""


class ClipIds(Body):
    ids: list[Annotated[str, Field(max_length=32)]] = Field(min_length=1, max_length=100)
