"""Live stream monitors: what a client asks for and what the API shows (never the stream
key, except once inside ``ingest_url`` in the answer that created a push monitor)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from clipray.domain.streams import (
    CLIPS_PER_HOUR_BOUNDS,
    DURATION_BOUNDS,
    KEYWORD_MAX_LEN,
    MAX_KEYWORDS,
    MonitorSettings,
)
from clipray.serve.schemas.common import Aspect, Body, CaptionStyle, Timestamp

_LO, _HI = DURATION_BOUNDS


class StreamSettings(Body):
    """What the monitor makes of its stream; every field optional."""

    min_duration: float = Field(default=15.0, ge=_LO, le=_HI)
    max_duration: float = Field(default=45.0, ge=_LO, le=_HI)
    keywords: list[str] = Field(default_factory=list, max_length=MAX_KEYWORDS)
    """Words that trigger an event when spoken (each 1 to 64 characters)."""
    caption_style: CaptionStyle = "highlight_word"
    aspect: Aspect = "9:16"
    max_clips_per_hour: int = Field(default=12, ge=CLIPS_PER_HOUR_BOUNDS[0],
                                    le=CLIPS_PER_HOUR_BOUNDS[1])  # fmt: skip

    @model_validator(mode="after")
    def _bounds(self) -> StreamSettings:
        if any(not 1 <= len(k.strip()) <= KEYWORD_MAX_LEN for k in self.keywords):
            raise ValueError(f"a keyword has 1 to {KEYWORD_MAX_LEN} characters")
        MonitorSettings.of(self.model_dump())  # the domain's bounds, as the CLI gets them
        return self


class StreamCreate(Body):
    url: str = Field(min_length=1, max_length=2048)
    """The stream: an HLS/DASH, RTMP or SRT URL or a platform page, on an allowed site; or
    ``rtmp-push`` for push ingest (the answer's ``ingest_url`` is where OBS pushes)."""
    settings: StreamSettings = Field(default_factory=StreamSettings)


class StreamCreated(BaseModel):
    id: str
    status: str
    ingest_url: str | None
    """Push ingest only: ``rtmp://host:port/live/{stream key}``, shown this once."""


class StreamOut(BaseModel):
    id: str
    status: str
    """idle, connecting, active, paused, error or stopped."""
    url: str | None
    """The source URL; null for push ingest."""
    push: bool
    settings: dict[str, Any]
    last_seen_at: Timestamp | None
    """The worker's last heartbeat."""
    last_error: str | None
    clips_generated: int
    created_at: Timestamp
    updated_at: Timestamp
    stopped_at: Timestamp | None
