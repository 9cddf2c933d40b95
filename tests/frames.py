"""Decoded pictures, for tests that check frames by their pixels (which frame a clip holds,
where a cut lands) rather than by what the container says."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np


def gray_frames(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Every frame of the first video stream of ``path``, gray, scaled to ``size`` (width,
    height): ``(N, H, W)`` float."""
    w, h = size
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0", "-s", f"{w}x{h}",
         "-pix_fmt", "gray", "-f", "rawvideo", "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w).astype(np.float64)
