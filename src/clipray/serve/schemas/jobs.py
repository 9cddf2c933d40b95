"""Jobs: what a job makes, and its state with every step's attempts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from clipray.serve.schemas.common import (
    Aspect,
    Body,
    CaptionStyle,
    HookText,
    Layout,
    Timestamp,
    ZoomStyle,
)

CensorWord = Annotated[str, Field(min_length=1, max_length=40, pattern=r"\w")]


class Censor(Body):
    """Words muted in the clips' sound (``bleep``: a 1 kHz tone in their place) and starred
    in the captions, matched ignoring case and punctuation; no words: no censoring."""

    words: list[CensorWord] = Field(max_length=50)
    mode: Literal["bleep", "silence"] = "bleep"


MusicKey = Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^[^/\x00-\x1f]")]
SafeArea = Literal["all", "tiktok", "reels", "shorts"]
"""Whose UI-free area holds a vertical clip's captions (``clips/safe_area.py``)."""
"""A music track: the key of an object in the workspace's media (never a server path)."""
BrandKitId = Annotated[str, Field(min_length=1, max_length=32)]
"""A brand kit's id (an unknown one is 404 ``BRAND_KIT_NOT_FOUND``)."""


class JobSettings(Body):
    """What the job makes; every field optional."""

    max_clips: int = Field(default=5, ge=1, le=20)
    min_duration: float = Field(default=15.0, ge=3.0, le=600.0)
    max_duration: float = Field(default=60.0, ge=3.0, le=600.0)
    aspect: Aspect = "9:16"
    captions: CaptionStyle = "highlight_word"
    layout: Layout = "auto"
    zooms: ZoomStyle | None = None
    """Magic zooms on emphasis in this style; null: none."""
    hook: HookText | None = None
    """A title over each clip's first seconds: this text, or ``auto`` for the clip's title."""
    remove_fillers: bool = False
    """Cut "um", "uh" and long pauses out of the clips (captions stay in sync)."""
    censor: Censor | None = None
    denoise: bool = False
    """FFT noise reduction of the clips' sound."""
    music: MusicKey | None = None
    """A music track (a workspace object key) ducked under the speech; null: none."""
    transition: Literal["none", "crossfade", "wipe", "zoom"] = "none"
    """How the parts left by ``remove_fillers`` join on screen, the sound crossfading as
    long; ``none``: straight cuts."""
    broll: bool = False
    """Cut away to the workspace library's B-roll (``/api/library``) where a clip talks about
    what it shows; an empty library: no cutaways (the analyze step's ``warnings`` say so)."""
    sfx: bool = False
    """Play the library's sound effects on the spoken words they are tagged with."""
    brand_kit_id: BrandKitId | None = None
    """A brand kit of the workspace (``/api/brand``) the clips wear; null: none."""
    emoji: bool = False
    """An emoji after caption words of the built-in dictionary (money 💰, fire 🔥 ...)."""
    safe_area: SafeArea = "all"
    """Whose UI-free area holds a 9:16 clip's captions: ``all`` (every platform's),
    ``tiktok``, ``reels`` or ``shorts``."""
    beat_sync: bool = False
    """Cuts, zoom starts and B-roll edges snapped to the music's beats (needs ``music``:
    422 ``BEAT_SYNC_NEEDS_MUSIC`` without)."""

    @model_validator(mode="after")
    def _durations(self) -> JobSettings:
        if self.min_duration > self.max_duration:
            raise ValueError("min_duration is above max_duration")
        return self


class JobCreate(Body):
    """Exactly one of ``source_id`` (an uploaded source), ``source_url``, ``source_key``."""

    source_id: str | None = Field(default=None, max_length=32)
    source_url: str | None = Field(default=None, max_length=2048)
    source_key: str | None = Field(default=None, max_length=1024)
    settings: JobSettings = Field(default_factory=JobSettings)

    @model_validator(mode="after")
    def _one_source(self) -> JobCreate:
        given = [n for n in ("source_id", "source_url", "source_key") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError("give exactly one of source_id, source_url, source_key")
        return self


class StepOut(BaseModel):
    name: str
    status: str
    attempt: int
    started_at: Timestamp | None
    finished_at: Timestamp | None
    duration_s: float | None
    error: str | None
    detail: dict[str, Any]
    worker: dict[str, Any] | None = None
    """Which process ran the attempt (``worker_pid``, ``node_id``): shown to workspace
    admins only (``inspect_workers``), null for everyone else."""


class JobOut(BaseModel):
    id: str
    status: str
    paused: bool
    progress: float
    error: str | None
    source_id: str | None
    source: dict[str, str]
    settings: dict[str, Any]
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    steps: list[StepOut] = Field(default_factory=list)


class JobCreated(BaseModel):
    id: str
    status: str
