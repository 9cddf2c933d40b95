"""How a stream worker turns its stream into clips (``CLIPRAY_STREAM_CLIPS__<FIELD>``).

The analysis' own thresholds live in ``live/settings.py``; ``analysis`` here layers
overrides onto them for every stream (a monitor's durations, keywords and hourly cap are
layered on top of that by the pipeline).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class StreamClipSettings(BaseModel):
    """Real-time speech, scene cuts, chat and the live render preset."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    x264_preset: str = "superfast"
    """libx264 preset of a stream clip: the VOD render's ``veryfast`` takes about twice as
    long, and a live clip is judged by how soon it is out."""
    crf: int = Field(23, ge=0, le=51)
    """libx264 quality of a stream clip (the VOD render uses 20)."""
    asr_window_s: float = Field(8.0, ge=2.0, le=30.0)
    """Audio sent to speech recognition at a time: longer windows give Whisper more context
    and cost less per second, shorter ones bring keywords sooner."""
    asr_hold_s: float = Field(1.5, ge=0.0, le=10.0)
    """Words ending in the last this-many seconds of a window are not fed yet: the word may
    be cut at the window's end, so the next window (starting there) transcribes it again."""
    asr_beam_size: int = Field(1, ge=1, le=10)
    """Beam of live speech recognition, in process or asked of the warm service per call
    (greedy for live; the jobs' calls keep the service's own)."""
    scene_threshold: float = Field(0.3, gt=0.0, lt=1.0)
    """FFmpeg's scene score from which a frame starts a new shot."""
    scene_height: int = Field(90, ge=32, le=720)
    """Scene cuts are found on a decode this many pixels high: cuts are big changes, a
    thumbnail-sized decode sees them at a fraction of the cost."""
    face_sample_fps: float = Field(1.0, ge=0.0, le=10.0)
    """Frames per second of a clip's window the face detector sees, for its reframe (the
    VOD analysis samples 2: a live clip must be out fast, and a speaker barely moves in a
    second); 0 crops live clips centred."""
    step_wait_s: float = Field(1.0, gt=0.0, le=10.0)
    """How long one pipeline step waits for the next segment (well under a heartbeat)."""
    analysis: dict[str, Any] = Field(default_factory=dict)
    """Overrides of the live analysis (``live_config``), e.g. ``{"energy": {"z_threshold": 4}}``."""
