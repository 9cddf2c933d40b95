"""The video branch's per-window work: one decode, scene features of every frame, samples.

A window is decoded once at analysis resolution, a short chunk of frames at a time: every
frame is reduced to its scene features (a few bytes), and frames at ``sample_fps`` are kept
for the model stages (faces, embeddings). Nothing else of the window stays in memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from clipray.pipelines.stages.decode import iter_windows
from clipray.pipelines.stages.scenes import Features, ScenesConfig, features
from clipray.pipelines.stages.speaking import MotionAccumulator

MOTION_MARGIN_S = 0.1
"""Beyond half a sample step, the motion decode reaches this much further: the frame
before a sample interval's first one, at any frame rate down to 10 fps."""


@dataclass(frozen=True, eq=False)
class DecodedWindow:
    features: Features | None
    """Scene features of every frame of the window; None when it holds no frame."""
    samples: np.ndarray
    """``(S, H, W, 3)`` uint8 RGB frames at ``sample_fps``, analysis size."""
    sample_times: np.ndarray
    """``(S,)`` their timestamps in seconds."""
    motion: np.ndarray | None = None
    """``(S, h, w)`` frame-to-frame luma change around each sample, at half the analysis
    size: what the mouth-motion measure reads once faces are found."""


def sample_grid(start: float, end: float, sample_fps: float) -> np.ndarray:
    """Sample instants ``k / sample_fps`` in ``[start, end)``: one global grid, so windows
    never sample the same instant twice nor skip one at their boundaries."""
    if sample_fps <= 0 or end <= start:
        return np.zeros(0)
    first = int(np.ceil(start * sample_fps - 1e-9))
    last = int(np.ceil(end * sample_fps - 1e-9))
    return np.arange(first, last) / sample_fps


def decode_window(
    path: str, start: float, end: float | None, duration: float, cfg: ScenesConfig,
    sample_fps: float,
) -> DecodedWindow:  # fmt: skip
    """Decode ``[start, end)`` of ``path`` once (see the module docstring).

    The motion around a sample reaches half a sample step (and one frame) beyond the
    window on either side, so those frames are decoded too, for the motion alone: a
    sample's motion is then the same whatever windows the video is cut into."""
    grid = sample_grid(start, duration if end is None else end, sample_fps)
    parts: list[Features] = []
    samples: list[np.ndarray] = []
    sample_times: list[float] = []
    prev: np.ndarray | None = None
    grid_index: list[int] = []
    motion = MotionAccumulator(sample_fps)
    margin = (0.5 / sample_fps if sample_fps > 0 else 0.0) + MOTION_MARGIN_S
    stop = math.inf if end is None else end
    g = 0
    chunks = iter_windows(path, cfg.chunk_s, cfg.decode_config(), start=max(0.0, start - margin),
                          end=None if end is None else end + margin, reuse=True)  # fmt: skip
    for chunk in chunks:
        inside = (chunk.times >= start) & (chunk.times < stop)
        if inside.any():
            own = inside.all()
            frames = chunk.frames if own else chunk.frames[inside]
            part = features(frames, cfg.weights, prev, chunk.times if own else chunk.times[inside])
            prev = part.last_hsv
            parts.append(part)
        # The sample for grid instant g is the first frame shown at or after it.
        for i, t in enumerate(chunk.times):
            motion.add(float(t), chunk.frames[i])
            if not inside[i]:
                continue
            while g < grid.size and grid[g] <= t:
                if not sample_times or sample_times[-1] != t:
                    samples.append(chunk.frames[i].copy())
                    sample_times.append(float(t))
                    grid_index.append(round(grid[g] * sample_fps))
                g += 1
    feats = Features.concat(parts) if parts else None
    frames = np.stack(samples) if samples else np.zeros((0, 1, 1, 3), np.uint8)
    maps = motion.maps(grid_index, frames.shape[1:3]) if samples else None
    return DecodedWindow(feats, frames, np.asarray(sample_times, np.float64), maps)
