"""How a stream worker ingests and buffers (``CLIPRAY_STREAM_INGEST__<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GiB = 1024**3


class IngestSettings(BaseModel):
    """The media side of a stream worker: segments, the ring buffer, reconnects."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    segment_s: float = Field(2.0, gt=0.2, le=30)
    """Target segment length: the grain of a window, and the most a stop loses."""
    buffer_seconds: float = Field(600.0, gt=0)
    """Seconds of stream the ring buffer keeps."""
    buffer_bytes: int = Field(2 * GiB, gt=0)
    """Bytes the ring buffer keeps (a 1080p60 stream at 8 Mb/s fills 2 GiB in 36 min)."""
    video: Literal["auto", "copy", "transcode"] = "auto"
    """``auto`` copies a source whose keyframes allow it (see ``streams.segmenter``)."""
    max_copy_gop_s: float = Field(4.0, gt=0)
    """Longest keyframe interval ``auto`` still copies (segments then last up to this)."""
    probe_s: float = Field(6.0, gt=0)
    """Seconds of a pulled source read to measure its keyframe interval."""
    push_video: Literal["copy", "transcode"] = "copy"
    """A pushed stream cannot be probed before it arrives; OBS sends H.264 with the 2 s
    keyframe interval platforms ask for, so it is copied unless this says otherwise."""
    x264_preset: str = "veryfast"
    """libx264 preset when a source must be transcoded."""
    crf: int = Field(23, ge=0, le=51)
    """libx264 quality when transcoding."""
    audio_bitrate: str = "128k"
    """AAC bitrate when the audio must be encoded."""
    max_failures: int = Field(5, ge=1)
    """Consecutive failed connections after which the ingest reports ``error`` and stops."""
    backoff_initial_s: float = Field(1.0, gt=0)
    """Wait before the first reconnect; doubled after each further failure."""
    backoff_max_s: float = Field(30.0, gt=0)
    """Longest wait between reconnects."""
    stall_timeout_s: float = Field(15.0, gt=0)
    """A connection that yields no segment for this long is dropped and retried. It must
    exceed ffmpeg's probe of a new connection (up to 5 s of MPEG-TS over SRT) plus a segment."""
    rw_timeout_s: float = Field(10.0, gt=0)
    """Network read timeout of ffmpeg and ffprobe (a dead socket ends the run)."""
    stop_grace_s: float = Field(10.0, gt=0)
    """How long ``stop`` waits for ffmpeg to close its last segment before killing it."""
