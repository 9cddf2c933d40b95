"""What every FFmpeg run of the render shares: the bit-exact output flags, the fixed
thread count, and the render's error (``clips/render.py`` re-exports them)."""

from __future__ import annotations

from clipray.media.ffmpeg import FfmpegError

THREADS = 4
"""Encoder threads, fixed: x264's output depends on its thread count, so a fixed count is
what makes the same spec give the same bytes on any machine size (4 keeps a 1080x1920
encode near full speed on the render workers' CPU budget)."""

BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
            "-map_metadata", "-1", "-threads", str(THREADS)]  # fmt: skip
"""Output options of every encode: no encoder version strings, no copied metadata, the
fixed thread count."""


class RenderError(FfmpegError):
    """FFmpeg failed; the message carries the end of its log."""

    code = "RENDER_FAILED"
