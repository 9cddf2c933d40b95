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
from clipray.serve.schemas.generated import GeneratedClipOut

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


class StreamClipOut(GeneratedClipOut):
    """A clip of the stream: the generated clip as ``/api/generated-clips`` shows it, plus
    where it lies on the stream and what made it."""

    watch_url: str
    """``/api/generated-clips/{id}/watch``: 302 to a URL that plays it."""
    download_url: str
    """``/api/generated-clips/{id}/download``: 302 to a URL that downloads it."""
    stream_start: float
    """Seconds of the stream (its clock counts media received) where the clip starts..."""
    stream_end: float
    """...and ends."""
    received_start: Timestamp | None
    """When the clip's first moment arrived..."""
    received_end: Timestamp | None
    """...and its last."""
    events: list[dict[str, Any]]
    """The events that made it (kind, ``t_start``/``t_end`` in stream seconds, strength,
    detail); the first item is ``{"score": ...}``, the window's score."""
    available_at: Timestamp
    """When the clip was stored and could be watched."""
    latency_s: float | None
    """Event to clip: from when the end of its last event arrived to ``available_at``."""


class StreamHealthOut(BaseModel):
    """How the stream's worker keeps up; the figures are null until it has reported."""

    status: str
    """The monitor's status: the figures are its worker's last report, stale once the
    monitor is no longer running (compare ``measured_at``)."""
    measured_at: Timestamp | None
    """When the worker took the figures."""
    stream_time_s: float | None
    """The stream clock then (end of the newest segment received)."""
    buffer_seconds: float | None
    buffer_bytes: int | None
    ingest_lag_s: float | None
    """How far behind the source the newest media is (a lower bound: now minus when the
    newest segment landed, plus how much later than real time it landed than the best
    segment since the source connected)."""
    transcript_lag_s: float | None
    """The stream clock minus the end of the newest transcribed audio."""
    latency_p50_s: float | None
    """Event to clip, median over the monitor's recent clips (up to 500)."""
    latency_p95_s: float | None
    latency_clips: int
    """How many clips the latency figures are taken over."""
