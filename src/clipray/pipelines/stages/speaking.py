"""Who is speaking: a speaking score per face detection, from the motion of the mouth region
matched against the speech the audio branch heard. Pure numpy, no model, no Ray.

Three steps, each where its inputs already are:

1. :class:`MotionAccumulator` (the decode, which sees every frame): the mean absolute change
   of luma between consecutive frames, per sample interval, on a half-size grid. A few
   kilobytes per sample instead of the frames themselves, and at the full frame rate: a
   mouth opens and closes several times a second, far faster than the 2 fps samples.
2. :func:`with_mouth_motion` (after face detection, in the window's actor): each detection
   gets the motion of its mouth region (the lower part of its box) less half that of its
   upper part: a nod or a camera move, which moves both alike, counts for little, and a
   talking head, whose whole face moves with its words, still counts.
3. :func:`speaking_series` (the merge, which has the transcript and the audio energy): a
   track's mouth motion above its own idle level, on a scale shared by all faces, gated by
   the speech activity (ASR words' times and the audio energy) at each sample.

    >>> acc = MotionAccumulator(2.0)
    >>> for t, frame in frames:                                     # doctest: +SKIP
    ...     acc.add(t, frame)
    >>> maps = acc.maps(grid_indices, (144, 256))                   # doctest: +SKIP
    >>> faces = with_mouth_motion(detections, maps, (144, 256))     # doctest: +SKIP
    >>> speaking_series(tracks, words, rms, 0.1, 2.0)               # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from clipray.schemas import FaceBox, Track, Word

MOUTH = (0.2, 0.8, 0.62, 0.95)
"""Mouth region of a face box as fractions ``(x0, x1, y0, y1)`` of its width and height: a
face detector's box runs from the forehead to the chin, and the lips sit in its lowest
third."""
UPPER = (0.2, 0.8, 0.15, 0.45)
"""The reference region (eyes and forehead): it moves with the head, not with speech."""
UPPER_SHARE = 0.5
"""How much of the upper face's motion is taken off the mouth's. All of it would cancel a
talking head that moves with its words (SadTalker's heads do: mouth and forehead move
alike); half still leaves a silent nod far below speech."""


@dataclass
class MotionAccumulator:
    """Frame-to-frame luma change summed per sample interval (``k / fps`` +- half a step)."""

    fps: float
    step: int = 2
    """Grid subsampling: a 256-pixel analysis frame gives a 128-pixel motion map."""
    _prev: np.ndarray | None = None
    _sums: dict[int, np.ndarray] = field(default_factory=dict)
    _counts: dict[int, int] = field(default_factory=dict)

    def add(self, t: float, frame: np.ndarray) -> None:
        """One decoded RGB frame at time ``t``; frames must come in time order."""
        luma = frame[:: self.step, :: self.step, 1].astype(np.int16)  # green ~ luma
        if self._prev is not None and self._prev.shape == luma.shape:
            k = int(np.floor(t * self.fps + 0.5))
            diff = np.abs(luma - self._prev).astype(np.float32)
            if k in self._sums:
                self._sums[k] += diff
                self._counts[k] += 1
            else:
                self._sums[k], self._counts[k] = diff, 1
        self._prev = luma

    def maps(self, grid: Sequence[int], shape: tuple[int, int]) -> np.ndarray:
        """``(S, h, w)`` mean motion of the sample intervals ``grid`` (zeros where no frame
        pair fell in one); ``shape`` is the analysis frame's ``(height, width)``."""
        h, w = -(-shape[0] // self.step), -(-shape[1] // self.step)
        out = np.zeros((len(grid), h, w), np.float32)
        for i, k in enumerate(grid):
            if k in self._sums:
                out[i] = self._sums[k] / self._counts[k]
        return out


def _region(box: tuple[float, float, float, float], frac: tuple[float, float, float, float],
            scale: float, shape: tuple[int, int]) -> tuple[slice, slice]:  # fmt: skip
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    c0 = int(np.clip((x1 + frac[0] * w) / scale, 0, shape[1] - 1))
    c1 = int(np.clip(np.ceil((x1 + frac[1] * w) / scale), c0 + 1, shape[1]))
    r0 = int(np.clip((y1 + frac[2] * h) / scale, 0, shape[0] - 1))
    r1 = int(np.clip(np.ceil((y1 + frac[3] * h) / scale), r0 + 1, shape[0]))
    return slice(r0, r1), slice(c0, c1)


def mouth_motion(box: tuple[float, float, float, float], motion: np.ndarray,
                 scale: float) -> float:  # fmt: skip
    """Motion of the mouth region less half that of the upper face, >= 0, in luma levels
    per frame. ``scale``: analysis pixels per motion-map cell."""
    mouth = float(motion[_region(box, MOUTH, scale, motion.shape)].mean())
    upper = float(motion[_region(box, UPPER, scale, motion.shape)].mean())
    return max(0.0, mouth - UPPER_SHARE * upper)


def with_mouth_motion(faces: list[list[FaceBox]], motion: np.ndarray,
                      frame_shape: tuple[int, int]) -> list[list[FaceBox]]:  # fmt: skip
    """Each sample's detections with their ``mouth`` motion (``motion``: one map per
    sample, as :meth:`MotionAccumulator.maps` gives; ``frame_shape``: the analysis frame's
    ``(height, width)``, the detections' pixels)."""
    if len(motion) != len(faces) or not len(motion):
        return faces
    scale = frame_shape[0] / motion.shape[1]
    return [
        [replace(d, mouth=round(mouth_motion(d.box, m, scale), 3)) for d in sample]
        for sample, m in zip(faces, motion, strict=True)
    ]


# --- the merge: speaking scores ------------------------------------------------------------
@dataclass(frozen=True)
class SpeakingConfig:
    """How mouth motion and speech make a speaking score."""

    word_pad: float = 0.15
    """Seconds added to each side of an ASR word: whisper's word edges are that loose, and
    it closes the gaps between the words of one phrase."""
    voice_db: float = 10.0
    """A hop is voiced when its RMS is this many dB above the quiet floor (the file's 10th
    percentile), or within 10 dB of its loud level (90th percentile) in a file that is
    speech throughout."""
    idle_quantile: float = 0.25
    """A track's idle mouth motion: this quantile of its own samples (even a talker pauses
    a quarter of the time), subtracted so a face that always twitches does not speak."""
    full_quantile: float = 0.9
    """Mouth motion that scores 1: this quantile of every face's excess motion during
    speech, a scale shared by all faces of the video."""


def speech_activity(times: np.ndarray, half: float, words: Sequence[Word], rms: np.ndarray,
                    hop: float, cfg: SpeakingConfig) -> np.ndarray:  # fmt: skip
    """Speech in ``[t - half, t + half)`` for each ``t``, in [0, 1]: the voiced share of the
    interval, counted fully where ASR heard words and half where it heard none (a laugh or
    music is loud without being speech). Hop-resolution masks and running sums, so a
    4-hour video's 28,800 samples cost one pass."""
    if rms.size == 0 or hop <= 0:
        return np.zeros(len(times))
    floor, loud = float(np.quantile(rms, 0.1)), float(np.quantile(rms, 0.9))
    gain = 10 ** (cfg.voice_db / 20)
    threshold = max(min(floor * gain, loud / gain), 1e-4)
    hop_t = (np.arange(rms.size) + 0.5) * hop
    weight = np.where(rms > threshold, 1.0, 0.0)
    if words:
        worded = np.zeros(rms.size + 1)
        for w in words:  # +1 where a padded word starts, -1 where it ends
            lo, hi = np.searchsorted(hop_t, [w.start - cfg.word_pad, w.end + cfg.word_pad])
            worded[lo] += 1
            worded[hi] -= 1
        weight *= np.where(np.cumsum(worded)[:-1] > 0, 1.0, 0.5)
    total = np.concatenate([[0.0], np.cumsum(weight)])
    ts = np.asarray(times, float)
    lo, hi = np.searchsorted(hop_t, ts - half), np.searchsorted(hop_t, ts + half)
    n = hi - lo
    return np.where(n > 0, (total[hi] - total[lo]) / np.maximum(n, 1), 0.0)


def speaking_series(tracks: Sequence[Track], words: Sequence[Word], rms: np.ndarray,
                    hop: float, sample_fps: float, cfg: SpeakingConfig | None = None
                    ) -> list[Track]:  # fmt: skip
    """``tracks`` with their speaking score per detection, in [0, 1]: speech activity at
    the sample times mouth motion above the track's idle level, on the video's scale.
    Tracks whose detections carry no mouth motion are returned unchanged."""
    cfg = cfg or SpeakingConfig()
    measured = [t for t in tracks if t.detections and all(d.mouth is not None for d in
                                                           t.detections)]  # fmt: skip
    if not measured or sample_fps <= 0:
        return list(tracks)
    half = 0.5 / sample_fps
    excess, speech = {}, {}
    for t in measured:
        m = np.asarray([d.mouth for d in t.detections], float)
        excess[t.id] = np.clip(m - np.quantile(m, cfg.idle_quantile), 0, None)
        times = np.asarray([d.t for d in t.detections])
        speech[t.id] = speech_activity(times, half, words, rms, hop, cfg)
    during = np.concatenate([excess[k][speech[k] > 0.25] for k in excess])
    full = float(np.quantile(during, cfg.full_quantile)) if during.size else 0.0
    out = []
    for t in tracks:
        if t.id not in excess or full <= 0:
            out.append(t)
            continue
        score = speech[t.id] * np.clip(excess[t.id] / full, 0, 1)
        out.append(Track(t.id, t.detections, tuple(round(float(v), 3) for v in score)))
    return out
