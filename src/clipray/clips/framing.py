"""The geometry a crop path is made of, shared by the face-following planner
(``clips/reframe.py``) and the speaker-following one (``clips/speaker.py``): a face track as
arrays, the largest crop of an aspect inside a frame, a shot's keyframe grid, and a crop
that follows a target smoothly (dead zone, Gaussian, speed limit). Pure: numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from clipray.clips.reframe import ReframeConfig
    from clipray.schemas import Track

__all__ = ["Face", "area", "fit", "follow", "grid", "median3"]


@dataclass(frozen=True, eq=False)
class Face:
    """A track as arrays: ``t`` (M,) source seconds, ``box`` (M, 4) ``x1, y1, x2, y2``,
    ``speaking`` (M,) its speaking scores, or (0,) where not measured."""

    id: int
    t: np.ndarray
    box: np.ndarray
    speaking: np.ndarray

    @classmethod
    def of(cls, track: Track) -> Face:
        said = track.speaking if len(track.speaking) == len(track.detections) else ()
        dets = [(d.t, *d.box, *said[i : i + 1]) for i, d in enumerate(track.detections)]
        arr = np.asarray(sorted(dets), dtype=float).reshape(-1, 6 if said else 5)
        return cls(track.id, arr[:, 0], arr[:, 1:5], arr[:, 5] if said else np.zeros(0))

    def within(self, lo: float, hi: float) -> Face:
        keep = (self.t >= lo) & (self.t < hi)
        said = self.speaking[keep] if self.speaking.size else self.speaking
        return Face(self.id, self.t[keep], self.box[keep], said)

    def weight(self) -> float:
        """Summed box area: large and long-present faces both weigh more."""
        return float(np.sum(area(self.box)))

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        return (self.box[:, 0] + self.box[:, 2]) / 2, (self.box[:, 1] + self.box[:, 3]) / 2

    def boxes_at(self, ts: np.ndarray) -> np.ndarray:
        """Boxes interpolated at ``ts``, held at the ends; a median of three detections
        first, so one misplaced box does not pull the crop."""
        box = median3(self.box)
        return np.stack([np.interp(ts, self.t, box[:, k]) for k in range(4)], axis=1)

    def centres_at(self, ts: np.ndarray) -> np.ndarray:
        b = self.boxes_at(ts)
        return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)


def area(box: np.ndarray) -> np.ndarray:
    return np.clip(box[:, 2] - box[:, 0], 0, None) * np.clip(box[:, 3] - box[:, 1], 0, None)


def median3(a: np.ndarray) -> np.ndarray:
    if len(a) < 3:
        return a
    out = a.copy()
    out[1:-1] = np.median(np.stack([a[:-2], a[1:-1], a[2:]]), axis=0)
    return out


def fit(width: int, height: int, aspect: float) -> tuple[int, int]:
    """The largest crop of ``aspect`` inside the frame, in even pixels (yuv420 needs them).
    The aspect is exact to within a pixel; an exact integer ratio (9k x 16k) would cost up
    to 31 rows of the picture for a difference nobody sees after scaling."""
    if width / height > aspect:
        h = height - height % 2
        w = min(width - width % 2, 2 * round(h * aspect / 2))
    else:
        w = width - width % 2
        h = min(height - height % 2, 2 * round(w / aspect / 2))
    return w, h


def grid(lo: float, hi: float, fps: float) -> np.ndarray:
    """Keyframes of one shot: every ``1/fps`` from ``lo`` and ``hi`` itself, so the shot's
    last crop is held up to the cut and the next shot starts at the same time."""
    n = max(1, math.ceil((hi - lo) * fps - 1e-9))
    return np.append(lo + np.arange(n) / fps, hi)


def follow(
    ts: np.ndarray,
    target: np.ndarray | None,
    crop: tuple[int, int],
    frame: tuple[int, int],
    cfg: ReframeConfig,
) -> np.ndarray:
    """One shot's crop boxes following ``target`` (N, 2) face centres, or centred on None.
    Each axis: clamp the aim into the frame, dead zone, Gaussian, speed limit, clamp."""
    n = len(ts)
    out = np.empty((n, 4))
    out[:, 2:] = crop
    for k in range(2):
        size, room = crop[k], frame[k] - crop[k]
        if target is None or room <= 0:
            out[:, k] = max(room, 0) / 2
            continue
        anchor = 0.5 if k == 0 else cfg.face_y
        aim = np.clip(target[:, k] - anchor * size, 0, room)
        aim = _dead_zone(ts, aim, cfg.dead_zone * size)
        aim = _gaussian(aim, cfg.smoothing * cfg.fps)
        aim = _speed_limit(ts, aim, cfg.max_speed * size)
        out[:, k] = np.clip(aim, 0, room)
    return out


def _dead_zone(ts: np.ndarray, x: np.ndarray, zone: float) -> np.ndarray:
    """Hysteresis: the output holds still until ``x`` leaves ``+-zone`` around it, then is
    dragged along at ``zone`` behind. It starts at the median of the first second, so a
    noisy first detection does not set the frame."""
    out = np.empty_like(x)
    held = float(np.median(x[ts <= ts[0] + 1.0]))
    for i, v in enumerate(x):
        if v > held + zone:
            held = v - zone
        elif v < held - zone:
            held = v + zone
        out[i] = held
    return out


def _gaussian(x: np.ndarray, sigma: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing in samples, edges padded with their own value so a
    shot's first and last crops are not pulled toward zero."""
    if sigma < 0.5 or len(x) < 3:
        return x
    r = math.ceil(3 * sigma)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    return np.convolve(np.pad(x, r, mode="edge"), k / k.sum(), mode="valid")


def _speed_limit(ts: np.ndarray, x: np.ndarray, speed: float) -> np.ndarray:
    out = x.copy()
    for i in range(1, len(x)):
        step = speed * (ts[i] - ts[i - 1])
        out[i] = out[i - 1] + np.clip(x[i] - out[i - 1], -step, step)
    return out
