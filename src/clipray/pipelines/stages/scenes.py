"""Shot boundaries: PySceneDetect's ContentDetector and ThresholdDetector, a window at a time.

Both detectors are re-implemented on whole runs of frames at once: one HSV conversion, one
absolute difference and one reduction per channel for all frames of a window, instead of
PySceneDetect's Python call per frame. The decisions that follow (the minimum scene length
filter, the fade state machine) only visit the few frames that cross a threshold. What
carries from one window to the next is small and explicit (:class:`ScanState`: the last
frame's HSV planes and a handful of frame numbers), so a cut that falls on a window boundary
comes out exactly as it does when the whole video is one window.

The algorithms are PySceneDetect 0.7's, with its defaults: the score of a frame is the mean
absolute difference of its hue, saturation and value planes and those of the previous frame
(weighted, then averaged); a cut is a score of at least ``threshold``, kept only when the scene
it closes is at least ``min_scene_len`` frames long (the MERGE flash filter). A fade boundary is
the middle of a stretch whose mean brightness is below ``fade_threshold``. Frames are numbered
by decode order (for variable-frame-rate input PySceneDetect instead numbers them
``round(t * r_frame_rate)``); times are each frame's own timestamp. Pixels differ from
PySceneDetect's by its full-size RGB conversion before the resize (scores agree to about 0.1
on average), so a score within a point of the threshold can fall the other way.

Two ways in: :func:`scan` takes the windows a shared decode stage already holds, in order;
:func:`detect_scenes` decodes a file itself, keyframe-aligned windows in parallel threads,
each reduced to per-frame :class:`Features` before the decisions run over them in order.

    >>> cfg, state, cuts = ScenesConfig(), ScanState(), []              # doctest: +SKIP
    >>> for win in iter_windows("talk.mp4", 10.0, cfg.decode_config()): # doctest: +SKIP
    ...     res = scan(win.frames, state, cfg)
    ...     state, cuts = res.state, cuts + list(res.cuts)
    >>> [(s.start, s.kind) for s in detect_scenes("talk.mp4")]         # doctest: +SKIP
    [(0.0, 'start'), (1.001, 'cut'), (6.006, 'cut'), (13.146, 'cut')]
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from clipray.pipelines.stages.decode import DecodeConfig, duration_of, iter_windows, plan_windows
from clipray.schemas import Scene


@dataclass(frozen=True)
class ScenesConfig:
    """Detector settings; the defaults are PySceneDetect's ``ContentDetector()`` and
    ``ThresholdDetector()``."""

    threshold: float = 27.0
    """A frame whose weighted mean HSV difference to the previous frame reaches this is a cut
    candidate (0-255 scale)."""
    min_scene_len: int = 15
    """Frames (half a second at 30 fps): a cut closer than this to the previous one is merged
    into it (the flash filter), a fade-in closer than this to the previous one makes no
    boundary, and :func:`scenes_from_cuts` drops a fade boundary this close to a cut."""
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    """Weights of the hue, saturation and value differences; ``(0, 0, 1)`` is PySceneDetect's
    ``luma_only``. Its edge component (default weight 0) is not implemented: it needs a Canny
    pass per frame."""
    fades: bool = True
    """Also look for fades to and from black."""
    fade_threshold: float = 12.0
    """A frame whose mean 8-bit RGB value is below this is black (ThresholdDetector's
    ``threshold``)."""
    analysis_width: int = 256
    """Frames are scaled so their longer side is this many pixels, as PySceneDetect's
    ``compute_downscale_factor`` does; ``threshold`` is tuned for this size."""
    window_s: float = 10.0
    """Seconds per independently decoded window in :func:`detect_scenes` (moved to the next
    keyframe). Long enough that seeking is rare, short enough to share out between workers."""
    chunk_s: float = 2.0
    """Seconds of frames held at once while a window is reduced to scores: 60 analysis
    frames at 30 fps, 6.6 MB, reused from chunk to chunk."""
    workers: int = 2
    """Windows decoded at once by :func:`detect_scenes` (PyAV and OpenCV release the GIL, so
    threads run in parallel). PySceneDetect also runs two threads, its decoder and its
    detector; give the Ray task as many CPUs."""

    def decode_config(self) -> DecodeConfig:
        """Point sampling at PySceneDetect's analysis size (see ``DecodeConfig.interpolation``)."""
        return DecodeConfig(size=self.analysis_width, interpolation="POINT")


@dataclass(frozen=True)
class _Flash:
    """PySceneDetect's ``FlashFilter`` (MERGE mode) between two windows."""

    last_above: int | None = None
    """Last frame at or above the threshold (the first frame before any)."""
    merge_enabled: bool = False
    """Merging starts only after the first cut."""
    merge_triggered: bool = False
    merge_start: int = 0


@dataclass(frozen=True)
class _Fade:
    """ThresholdDetector's state between two windows."""

    dark: bool | None = None
    """Whether the last frame was below the fade threshold; ``None`` before the first frame."""
    since: int = 0
    """Frame where the current dark or bright stretch began."""
    last_cut: int = 0
    """Frame of the last fade-in that made a boundary (min_scene_len counts from it)."""


@dataclass(frozen=True, eq=False)
class ScanState:
    """All that one window's detection needs from the windows before it."""

    n_frames: int = 0
    """Frames seen so far; the index of the next frame."""
    prev_hsv: np.ndarray | None = None
    """The last frame's ``(3, H * W)`` uint8 hue, saturation and value planes."""
    flash: _Flash = field(default_factory=_Flash)
    fade: _Fade = field(default_factory=_Fade)


@dataclass(frozen=True, eq=False)
class Features:
    """What the detectors need from a run of consecutive frames; all that a worker returns
    for a window, a few bytes per frame."""

    scores: np.ndarray
    """``(N,)`` ContentDetector score of each frame against the one before it; NaN for the
    first frame when the frame before it was not at hand (a window decoded on its own)."""
    brightness: np.ndarray
    """``(N,)`` mean 8-bit value of each frame (ThresholdDetector's ``average_rgb``)."""
    first_hsv: np.ndarray
    """``(3, H * W)`` HSV planes of the first frame, to score it against the previous window."""
    last_hsv: np.ndarray
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """``(N,)`` timestamps, when the frames came with them."""

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @staticmethod
    def concat(parts: Sequence[Features]) -> Features:
        """Features of consecutive runs, the later ones scored against the earlier ones."""
        return Features(
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.brightness for p in parts]),
            parts[0].first_hsv,
            parts[-1].last_hsv,
            np.concatenate([p.times for p in parts]),
        )


@dataclass(frozen=True, eq=False)
class ScanResult:
    state: ScanState
    cuts: tuple[int, ...]
    """First frames of new scenes found by the content detector, increasing. A merged cut may
    precede this window (the flash filter decides up to ``min_scene_len`` frames late)."""
    fades: tuple[int, ...]
    """Fade boundaries (middle of a black stretch), increasing; may precede this window."""
    scores: np.ndarray
    """``(N,)`` the window's ContentDetector scores (0 for the video's first frame)."""
    brightness: np.ndarray
    """``(N,)`` the window's mean frame values."""


def hsv_planes(frames: np.ndarray) -> np.ndarray:
    """``(N, H, W, 3)`` RGB uint8 -> ``(N, 3, H * W)`` HSV uint8 (OpenCV's 8-bit HSV: hue in
    0-179), one contiguous plane per channel: the layout a window's first and last frames
    are kept in (:class:`Features`), to be scored against the neighbouring windows."""
    n, h, w, _ = frames.shape
    return np.ascontiguousarray(_hsv(frames).reshape(n, h * w, 3).transpose(0, 2, 1))


def _hsv(frames: np.ndarray) -> np.ndarray:
    """``(N, H, W, 3)`` RGB uint8 -> the same shape in OpenCV's 8-bit HSV, one call for all."""
    n, h, w, _ = frames.shape
    hsv = cv2.cvtColor(np.ascontiguousarray(frames).reshape(n * h, w, 3), cv2.COLOR_RGB2HSV)
    return hsv.reshape(n, h, w, 3)


def _weighted(sums: np.ndarray, npix: int, weights: Sequence[float]) -> np.ndarray:
    """ContentDetector's scores from ``(N, 3)`` per-channel sums of absolute differences,
    with PySceneDetect's float arithmetic in its order so that a score equal to the
    threshold compares the same way. The sums are whole numbers, exact in float64."""
    means = sums / float(npix)
    w_hue, w_sat, w_lum = (float(w) for w in weights)
    total = abs(w_hue) + abs(w_sat) + abs(w_lum) + 0.0  # + the unused edge weight
    return (means[:, 0] * w_hue + means[:, 1] * w_sat + means[:, 2] * w_lum + 0.0) / total


def content_scores(
    planes: np.ndarray, prev: np.ndarray | None, weights: Sequence[float]
) -> np.ndarray:
    """ContentDetector's score of each of ``(N, 3, H * W)`` HSV planes against the one before
    it (``prev`` for the first; NaN where there is none)."""
    n, _, npix = planes.shape
    diffs = np.empty((n, 3, npix), np.uint8)
    if n > 1:
        cv2.absdiff(planes[1:].reshape(-1, npix), planes[:-1].reshape(-1, npix),
                    dst=diffs[1:].reshape(-1, npix))  # fmt: skip
    if prev is not None and n:
        cv2.absdiff(planes[0], prev, dst=diffs[0])
    scores = _weighted(diffs.sum(axis=2, dtype=np.int64).astype(np.float64), npix, weights)
    if prev is None and n:
        scores[0] = np.nan
    return scores


def features(
    frames: np.ndarray,
    weights: Sequence[float],
    prev_hsv: np.ndarray | None = None,
    times: np.ndarray | None = None,
) -> Features:
    """Scores and brightness of ``(N, H, W, 3)`` RGB uint8 frames at analysis size.

    The hot loop of scene detection (every decoded frame passes here), so it works on the
    pixels as OpenCV returns them, channels interleaved: one absolute difference for all
    frames, then per-channel sums by ``cv2.sumElems`` (SIMD, exact whole numbers). Only the
    first and last frames are laid out as planes for the neighbouring windows. Measured on
    this repository's 2-minute composite: 0.13 s of CPU per 1,800 frames instead of 0.32 s
    for planes of every frame summed by numpy; the scores are the same to the bit.
    """
    n, h, w, _ = frames.shape
    if n == 0:
        raise ValueError("no frames")
    hsv = _hsv(frames)
    sums = np.zeros((n, 3))
    if n > 1:
        rows = (n - 1) * h
        diffs = cv2.absdiff(hsv[1:].reshape(rows, w, 3), hsv[:-1].reshape(rows, w, 3))
        for i, diff in enumerate(diffs.reshape(n - 1, h, w, 3), start=1):
            sums[i] = cv2.sumElems(diff)[:3]
    scores = _weighted(sums, h * w, weights)
    first = np.ascontiguousarray(hsv[0].reshape(h * w, 3).T)
    last = first if n == 1 else np.ascontiguousarray(hsv[-1].reshape(h * w, 3).T)
    if prev_hsv is None:
        scores[0] = np.nan
    else:
        scores[0] = content_scores(first[None], prev_hsv, weights)[0]
    # ThresholdDetector's average_rgb: the mean of all three channels.
    rgb = np.ascontiguousarray(frames)
    brightness = np.array([sum(cv2.sumElems(f)[:3]) for f in rgb]) / float(frames[0].size)
    return Features(
        scores,
        brightness,
        first,
        last,
        np.zeros(0) if times is None else np.asarray(times, np.float64),
    )


def _flash_filter(
    above: np.ndarray, first: int, end: int, st: _Flash, min_len: int
) -> tuple[_Flash, list[int]]:
    """Replays FlashFilter.filter (MERGE) over frames ``[first, end)`` given only the frames
    at or above the threshold: frames below it change nothing except to end a merge, which
    happens on the first of them ``min_len`` frames after the last frame above."""
    if min_len <= 0:
        return st, [int(a) for a in above]
    last = first if st.last_above is None else st.last_above
    enabled, triggered, mstart = st.merge_enabled, st.merge_triggered, st.merge_start
    cuts: list[int] = []
    for a in above.tolist():
        if triggered and last - mstart >= min_len and last + min_len < a:
            cuts.append(last)
            triggered = False
        met = a - last >= min_len
        last = a
        if triggered:
            continue
        if met:
            enabled = True
            cuts.append(a)
        elif enabled:
            triggered, mstart = True, a
    if triggered and last - mstart >= min_len and last + min_len < end:
        cuts.append(last)
        triggered = False
    return _Flash(last, enabled, triggered, mstart), cuts


def _fade_filter(dark: np.ndarray, first: int, st: _Fade, min_len: int) -> tuple[_Fade, list[int]]:
    """Replays ThresholdDetector (FLOOR, ``fade_bias=0``) at the frames where brightness crosses
    the threshold: a boundary is placed halfway through each dark stretch (Python's ``round``,
    as PySceneDetect) when the fade-in is ``min_len`` frames after the previous one."""
    if dark.size == 0:
        return st, []
    if st.dark is None:
        st = _Fade(dark=bool(dark[0]), since=first, last_cut=first)
    prev = np.concatenate([[st.dark], dark[:-1]])
    flips = (np.flatnonzero(dark != prev) + first).tolist()
    is_dark, since, last_cut = st.dark, st.since, st.last_cut
    cuts: list[int] = []
    for t in flips:
        if not is_dark:
            is_dark, since = True, t
            continue
        if t - last_cut >= min_len:
            cuts.append(since + round((t - since) / 2.0))
            last_cut = t
        is_dark, since = False, t
    return _Fade(is_dark, since, last_cut), cuts


def scan_features(feats: Features, state: ScanState, cfg: ScenesConfig) -> ScanResult:
    """Cuts and fades in the next run of frames, continuing from ``state`` (``ScanState()``
    for the first frames of the video). Cheap: the pixels were reduced by :func:`features`."""
    n = len(feats)
    first, end = state.n_frames, state.n_frames + n
    if n == 0:
        return ScanResult(state, (), (), np.zeros(0), np.zeros(0))
    scores = feats.scores
    if np.isnan(scores[0]):
        scores = scores.copy()
        if state.prev_hsv is None:
            scores[0] = 0.0  # the video's first frame: PySceneDetect scores it 0
        else:
            pair = np.stack([state.prev_hsv, feats.first_hsv])
            scores[0] = content_scores(pair, None, cfg.weights)[1]
    above = np.flatnonzero(scores >= cfg.threshold) + first
    flash, cuts = _flash_filter(above, first, end, state.flash, cfg.min_scene_len)
    fade, fades = state.fade, []
    if cfg.fades:
        dark = feats.brightness < cfg.fade_threshold
        fade, fades = _fade_filter(dark, first, fade, cfg.min_scene_len)
    new_state = replace(state, n_frames=end, prev_hsv=feats.last_hsv, flash=flash, fade=fade)
    return ScanResult(new_state, tuple(cuts), tuple(fades), scores, feats.brightness)


def scan(frames: np.ndarray, state: ScanState, cfg: ScenesConfig) -> ScanResult:
    """Cuts and fades in the next window of frames, ``(N, H, W, 3)`` RGB uint8 at analysis
    size (a :class:`~clipray.pipelines.stages.decode.Window`'s ``frames``), continuing from
    ``state``: feed a video's windows in order and the cuts are those of the whole video."""
    if frames.shape[0] == 0:
        return ScanResult(state, (), (), np.zeros(0), np.zeros(0))
    return scan_features(features(frames, cfg.weights, state.prev_hsv), state, cfg)


def scenes_from_cuts(
    cuts: Sequence[int],
    fades: Sequence[int],
    n_frames: int,
    times: np.ndarray | Sequence[float] | float,
    *,
    duration: float | None = None,
    min_scene_len: int = 0,
) -> list[Scene]:
    """Scenes that tile ``[0, duration)`` and frames ``[0, n_frames)``: no gap, no overlap.

    A scene starts at each cut (``kind="cut"``) and each fade boundary (``"fade"``); the first
    is ``"start"``. A fade boundary within ``min_scene_len`` frames of a cut is dropped: cuts
    are frame-exact, while a fade boundary is only the middle of a dark stretch. Boundaries
    at frame 0 or past the last frame are ignored.

    Args:
        times: each frame's timestamp (``n_frames`` values), or a constant frame rate.
        duration: end of the last scene; by default the last frame's time plus one frame.
    """
    if n_frames <= 0:
        return []
    if np.isscalar(times):
        fps = float(times)  # type: ignore[arg-type]
        t = np.arange(n_frames, dtype=np.float64) / fps
        frame_s = 1.0 / fps
    else:
        t = np.asarray(times, dtype=np.float64)
        if t.shape != (n_frames,):
            raise ValueError(f"times has shape {t.shape}, expected ({n_frames},)")
        frame_s = float(np.median(np.diff(t))) if n_frames > 1 else 0.0
    end = float(t[-1] + frame_s) if duration is None else float(duration)
    hard = sorted({c for c in cuts if 0 < c < n_frames})
    bounds = {c: "cut" for c in hard}
    hard_arr = np.asarray(hard, dtype=np.int64)
    for f in sorted({f for f in fades if 0 < f < n_frames}):
        near = hard_arr.size and np.abs(hard_arr - f).min() < min_scene_len
        if f not in bounds and not near:
            bounds[f] = "fade"
    starts = [(0, "start"), *sorted(bounds.items())]
    starts = [(f, k) for f, k in starts if f == 0 or t[f] < end]
    scenes: list[Scene] = []
    for i, (frame, kind) in enumerate(starts):
        last = i + 1 == len(starts)
        nxt = n_frames if last else starts[i + 1][0]
        scenes.append(
            Scene(
                start=0.0 if frame == 0 else float(t[frame]),
                end=end if last else float(t[nxt]),
                start_frame=frame,
                end_frame=nxt,
                kind=kind,
            )
        )
    return scenes


def window_features(
    path: str | Path, start: float, end: float | None, cfg: ScenesConfig
) -> Features | None:
    """Decode ``[start, end)`` of ``path`` a chunk at a time and reduce it to
    :class:`Features`; ``None`` if the window holds no frame. Runs in a worker thread."""
    parts: list[Features] = []
    prev: np.ndarray | None = None
    chunks = iter_windows(path, cfg.chunk_s, cfg.decode_config(), start=start, end=end, reuse=True)
    for chunk in chunks:
        part = features(chunk.frames, cfg.weights, prev, chunk.times)
        prev = part.last_hsv
        parts.append(part)
    return Features.concat(parts) if parts else None


def detect_scenes(
    path: str | Path, cfg: ScenesConfig | None = None, *, duration: float | None = None
) -> list[Scene]:
    """The scenes of ``path``, covering ``[0, duration]``: pass the duration the video was
    probed with, or the container's is read (FFmpeg versions can differ on it by a frame).

    Keyframe-aligned windows are decoded and reduced to per-frame scores by ``cfg.workers``
    threads, each holding one chunk of frames at a time; the decisions then run over the
    scores in order, so the result does not depend on how the video was split.
    """
    cfg = cfg or ScenesConfig()
    duration = duration_of(path) if duration is None else duration
    windows = plan_windows(path, cfg.window_s)
    state = ScanState()
    cuts: list[int] = []
    fades: list[int] = []
    times: list[np.ndarray] = []
    workers = max(1, cfg.workers)
    # Results are read in time order, at most `ahead` windows ahead of the reader (memory
    # stays a few windows' features on a 4-hour video). Within that lookahead the longest
    # windows go first (keyframes can be far apart): the last to finish is then a short one.
    ahead = 4 * workers
    lengths = [(end or duration) - start for start, end in windows]
    jobs: dict[int, Future[Features | None]] = {}
    with ThreadPoolExecutor(workers) as pool:
        for i in range(len(windows)):
            todo = [j for j in range(i, min(i + ahead, len(windows))) if j not in jobs]
            for j in sorted(todo, key=lambda j: -lengths[j]):
                jobs[j] = pool.submit(window_features, path, *windows[j], cfg)
            feats = jobs.pop(i).result()
            if feats is None:
                continue
            res = scan_features(feats, state, cfg)
            state = res.state
            cuts += res.cuts
            fades += res.fades
            times.append(feats.times)
    all_times = np.concatenate(times) if times else np.zeros(0)
    duration = max(duration, float(all_times[-1]) if all_times.size else 0.0)
    return scenes_from_cuts(
        cuts, fades, state.n_frames, all_times, duration=duration, min_scene_len=cfg.min_scene_len
    )
