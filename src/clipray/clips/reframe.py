"""Reframe a source video to a clip's aspect by following the speaker's face.

Analysis gives face tracks sampled at ~2 fps and scene cuts; this module turns them into a
crop path: a time series of crop windows that keeps the main face in frame, stands still
while the face does, pans smoothly when it moves and jumps only at a scene cut. The path
then becomes one ffmpeg ``crop`` filter whose x/y offsets are piecewise-linear expressions
of ``t``, so a single ffmpeg pass renders the reframed clip.

    >>> cfg = ReframeConfig(aspect="9:16")
    >>> path = crop_path(1920, 1080, 12.0, 40.0, tracks, cuts, cfg)      # doctest: +SKIP
    >>> path.layout, path.boxes[0]                                       # doctest: +SKIP
    ('track', array([ 644.,    0.,  608., 1080.]))
    >>> path.to_ffmpeg_filter()                                          # doctest: +SKIP
    "crop=w=608:h=1080:x='if(lt(t,7.4),644,if(...))':y=0,scale=1080:1920,setsar=1"

and ``ffmpeg -ss 12 -to 40 -i src.mp4 -vf "$filter" clip.mp4``: path times are seconds
from the clip start, which is what ``t`` is once ``-ss`` seeks the input.

Pure numpy over plain arrays: no video is decoded here, so every rule is tested on
synthetic tracks in milliseconds.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from clipray.clips import speaker
from clipray.schemas import Scene, Track

Aspect = Literal["9:16", "1:1", "16:9"]
Layout = Literal["track", "wide", "split", "center", "speaker", "letterbox"]
"""How the renderer uses a path. ``track``, ``wide``, ``center`` and ``speaker`` (see
``clips/speaker.py``) are one crop scaled to the output (they differ only in what the crop
follows); ``split`` is two crops, ``boxes`` on top and ``boxes2`` below, each scaled to half
the output height and stacked; ``letterbox`` is the whole frame, fitted and padded."""

OUTPUT_SIZES: dict[str, tuple[int, int]] = {
    "9:16": (1080, 1920),
    "1:1": (1080, 1080),
    "16:9": (1920, 1080),
}


@dataclass(frozen=True)
class ReframeConfig:
    """How a crop path follows faces. Lengths are fractions of the crop so that one config
    behaves the same on 720p and 4K sources."""

    aspect: Aspect = "9:16"
    """Output aspect; the output size is ``OUTPUT_SIZES[aspect]``."""
    fps: float = 10.0
    """Keyframes per second of the path. Faces are sampled at ~2 fps, so 10 is already
    smoother than the evidence; more only lengthens the ffmpeg expression."""
    dead_zone: float = 0.06
    """The crop stays put until the face centre drifts this far (a fraction of the crop
    width or height) from where the crop aims: detector jitter of a few pixels never moves
    the picture, a real move does."""
    smoothing: float = 0.35
    """Sigma in seconds of the zero-phase Gaussian applied after the dead zone. It turns
    steps into eased pans; being centred, the crop starts moving a little before the face
    does, which is how an editor reframes."""
    max_speed: float = 0.8
    """Fastest pan, in crop widths (or heights) per second. A faster face is allowed to
    leave the centre rather than whip the picture around. Cuts are exempt."""
    face_y: float = 0.4
    """Where the face centre sits vertically in the crop (0 top, 1 bottom): a little above
    the middle leaves headroom and room for captions. Only matters when the crop is shorter
    than the source (vertical sources)."""
    two_face_layout: Literal["wide", "split"] = "wide"
    """With two similar faces on screen: ``wide`` aims between both when they fit in one
    crop (else follows the dominant one); ``split`` stacks one crop per face."""
    similar_size: float = 0.5
    """The second face counts when its median box area is at least this share of the main
    face's; smaller faces are background people."""
    co_present: float = 0.5
    """...and when it is on screen with the main face for this share of the main face's
    samples in the clip."""
    layout: speaker.JobLayout = "auto"
    """The job's layout; ``auto`` and ``speaker`` need speaking scores in the tracks and
    otherwise frame two faces as ``two_face_layout`` says."""
    split_zoom: float = 4.0
    """Split crops are this many face heights tall (between half and all of the largest
    crop), so each half shows one person instead of both."""

    def __post_init__(self) -> None:
        if self.aspect not in OUTPUT_SIZES:
            raise ValueError(f"aspect must be one of {sorted(OUTPUT_SIZES)}, not {self.aspect!r}")
        if self.two_face_layout not in ("wide", "split"):
            raise ValueError(f"two_face_layout must be 'wide' or 'split': {self.two_face_layout!r}")
        if self.layout not in speaker.JOB_LAYOUTS:
            raise ValueError(f"layout must be one of {speaker.JOB_LAYOUTS}: {self.layout!r}")
        if self.fps <= 0 or self.max_speed <= 0:
            raise ValueError("fps and max_speed must be positive")

    @property
    def output_size(self) -> tuple[int, int]:
        return OUTPUT_SIZES[self.aspect]


@dataclass(frozen=True, eq=False)
class CropPath:
    """Crop windows over a clip, ready for ffmpeg. Arrays are read-only."""

    times: np.ndarray
    """(N,) seconds from the clip start, non-decreasing. Two equal consecutive times mark a
    scene cut: the crop just before the cut, then the crop from the cut on."""
    boxes: np.ndarray
    """(N, 4) ``x, y, w, h`` in source pixels; ``w`` and ``h`` are the same in every row."""
    layout: Layout
    source_size: tuple[int, int]
    output_size: tuple[int, int]
    boxes2: np.ndarray | None = None
    """``split`` only: the bottom crop (the right-hand face); ``boxes`` is the top one."""
    overlay: CropPath | None = None
    """``speaker`` only: the split path shown during ``overlay_spans`` (both speak)."""
    overlay_spans: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        for arr in (self.times, self.boxes, self.boxes2):
            if arr is not None:
                arr.setflags(write=False)

    @property
    def crop_size(self) -> tuple[int, int]:
        return int(self.boxes[0, 2]), int(self.boxes[0, 3])

    def at(self, t: float | np.ndarray, which: int = 0) -> np.ndarray:
        """The crop at clip time(s) ``t``, interpolated as the ffmpeg expression does: linear
        between samples, the new shot's crop from a cut's time on."""
        boxes = self.boxes if which == 0 else self.boxes2
        if boxes is None:
            raise ValueError("this path has no second crop")
        ts = np.atleast_1d(np.asarray(t, dtype=float))
        i = np.clip(np.searchsorted(self.times, ts, side="right") - 1, 0, len(self.times) - 1)
        j = np.minimum(i + 1, len(self.times) - 1)
        span = self.times[j] - self.times[i]
        f = np.where(span > 0, (ts - self.times[i]) / np.where(span > 0, span, 1.0), 0.0)
        f = np.clip(f, 0.0, 1.0)[:, None]
        out = boxes[i] * (1 - f) + boxes[j] * f
        return out[0] if np.ndim(t) == 0 else out

    def to_ffmpeg_expr(self, which: int = 0, tolerance: float = 1.0) -> str:
        """One ffmpeg ``crop`` filter moving along the path.

        Format: ``crop=w=W:h=H:x='X':y='Y'`` where ``X`` and ``Y`` are piecewise-linear in
        ``t``. A piece is ``a+b*t`` (or just ``a`` when still) and pieces are chosen by a
        balanced tree of ``if(lt(t,T),LEFT,RIGHT)`` on their start times, so ffmpeg's
        expression nesting stays ``log2(pieces)`` deep however long the clip. Consecutive
        path samples are merged into one piece while the line stays within ``tolerance``
        pixels of every sample, so a still face is a constant and a steady pan one piece.
        The single quotes protect the commas inside from the filtergraph parser.
        """
        boxes = self.boxes if which == 0 else self.boxes2
        if boxes is None:
            raise ValueError("this path has no second crop")
        w, h = int(boxes[0, 2]), int(boxes[0, 3])
        x = _expression(_pieces(self.times, boxes[:, 0], tolerance))
        y = _expression(_pieces(self.times, boxes[:, 1], tolerance))
        return f"crop=w={w}:h={h}:x='{x}':y='{y}'"

    def to_ffmpeg_filter(self, tolerance: float = 1.0) -> str:
        """The whole ``-vf`` chain from source frames to output frames: crop, scale to the
        output size and square pixels; for ``split``, two crops scaled to half height each
        and stacked top over bottom."""
        out_w, out_h = self.output_size
        if self.layout == "letterbox" or self.overlay is not None:
            return speaker.ffmpeg_filter(self, tolerance)
        if self.layout != "split":
            return f"{self.to_ffmpeg_expr(0, tolerance)},scale={out_w}:{out_h},setsar=1"
        half = out_h // 2
        return (
            "split=2[top][bottom];"
            f"[top]{self.to_ffmpeg_expr(0, tolerance)},scale={out_w}:{half}[t];"
            f"[bottom]{self.to_ffmpeg_expr(1, tolerance)},scale={out_w}:{out_h - half}[b];"
            "[t][b]vstack=inputs=2,setsar=1"
        )


# --- the path -----------------------------------------------------------------------------
def crop_path(
    width: int,
    height: int,
    start: float,
    end: float,
    tracks: Sequence[Track],
    cuts: Sequence[float | Scene],
    cfg: ReframeConfig | None = None,
) -> CropPath:
    """Crop path of the clip ``[start, end)`` of a ``width`` x ``height`` source.

    Args:
        tracks: face tracks of the whole source, as ``Track`` or as the analysis' dicts
            (``{"id", "detections": [{"t", "box": [x1, y1, x2, y2], "score"}]}``).
        cuts: scene-cut times in source seconds (or ``Scene``s, whose starts are the cuts);
            the whole source's list is fine, cuts outside the clip bound the first and last
            shot, which keeps detections of a neighbouring shot out of the interpolation.

    Returns:
        ``center`` with no face in the clip; ``split`` for two similar faces when asked;
        ``wide`` when some shot was framed around two faces; ``track`` otherwise.
    """
    cfg = cfg or ReframeConfig()
    duration = end - start
    if duration <= 0:
        raise ValueError(f"empty clip: [{start}, {end})")
    if cfg.layout == "wide":
        return speaker.letterbox_path(width, height, duration, cfg)
    out_w, out_h = cfg.output_size
    frame = (width, height)
    crop = _fit(width, height, out_w / out_h)
    faces = [f for f in (_Face.of(t) for t in tracks) if f.t.size]
    in_clip = [f.within(start, end) for f in faces]
    faces = [f for f, c in zip(faces, in_clip, strict=True) if c.t.size]
    if not faces:
        box = np.array([[(width - crop[0]) / 2, (height - crop[1]) / 2, *crop]] * 2)
        return CropPath(np.array([0.0, duration]), box, "center", frame, (out_w, out_h))

    shots = _shots(start, end, sorted(float(getattr(c, "start", c)) for c in cuts))
    times = [_grid(lo - start, hi - start, cfg.fps) for lo, hi, _, _ in shots]
    pair = _two_faces(faces, start, end, cfg)
    if speaker.follows(pair, cfg):  # two faces, and who speaks is known
        return speaker.speaker_path(frame, start, end, tracks, cuts, faces, shots, cfg)

    if pair is not None and (cfg.two_face_layout == "split" or cfg.layout == "split"):
        clip_pair = (pair[0].within(start, end), pair[1].within(start, end))
        split = _fit_split(width, height, out_w / (out_h / 2), clip_pair, cfg)
        left, right = sorted(pair, key=lambda f: float(np.median(f.centres()[0])))
        paths = []
        for face in (left, right):
            parts = []
            for (_, _, plo, phi), ts in zip(shots, times, strict=True):
                shot_face = face.within(plo, phi)
                target = shot_face.centres_at(ts + start) if shot_face.t.size else None
                parts.append(_follow(ts, target, split, frame, cfg))
            paths.append(np.concatenate(parts))
        return CropPath(np.concatenate(times), paths[0], "split", frame, (out_w, out_h), paths[1])

    layout: Layout = "track"
    parts = []
    for (_, _, plo, phi), ts in zip(shots, times, strict=True):
        present = [s for s in (f.within(plo, phi) for f in faces) if s.t.size]
        target = None
        if pair is not None:
            both = [s for s in present if s.id in (pair[0].id, pair[1].id)]
            target = _wide_target(both, ts + start, crop, cfg) if len(both) == 2 else None
            layout = "wide" if target is not None else layout
        if target is None and present:
            main = max(present, key=_Face.weight)
            target = main.centres_at(ts + start)
        parts.append(_follow(ts, target, crop, frame, cfg))
    return CropPath(np.concatenate(times), np.concatenate(parts), layout, frame, (out_w, out_h))


@dataclass(frozen=True, eq=False)
class _Face:
    """A track as arrays: ``t`` (M,) source seconds, ``box`` (M, 4) ``x1, y1, x2, y2``,
    ``speaking`` (M,) its speaking scores, or (0,) where not measured."""

    id: int
    t: np.ndarray
    box: np.ndarray
    speaking: np.ndarray

    @classmethod
    def of(cls, track: Track) -> _Face:
        said = track.speaking if len(track.speaking) == len(track.detections) else ()
        dets = [(d.t, *d.box, *said[i : i + 1]) for i, d in enumerate(track.detections)]
        arr = np.asarray(sorted(dets), dtype=float).reshape(-1, 6 if said else 5)
        return cls(track.id, arr[:, 0], arr[:, 1:5], arr[:, 5] if said else np.zeros(0))

    def within(self, lo: float, hi: float) -> _Face:
        keep = (self.t >= lo) & (self.t < hi)
        said = self.speaking[keep] if self.speaking.size else self.speaking
        return _Face(self.id, self.t[keep], self.box[keep], said)

    def weight(self) -> float:
        """Summed box area: large and long-present faces both weigh more."""
        return float(np.sum(_area(self.box)))

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        return (self.box[:, 0] + self.box[:, 2]) / 2, (self.box[:, 1] + self.box[:, 3]) / 2

    def boxes_at(self, ts: np.ndarray) -> np.ndarray:
        """Boxes interpolated at ``ts``, held at the ends; a median of three detections
        first, so one misplaced box does not pull the crop."""
        box = _median3(self.box)
        return np.stack([np.interp(ts, self.t, box[:, k]) for k in range(4)], axis=1)

    def centres_at(self, ts: np.ndarray) -> np.ndarray:
        b = self.boxes_at(ts)
        return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)


def _area(box: np.ndarray) -> np.ndarray:
    return np.clip(box[:, 2] - box[:, 0], 0, None) * np.clip(box[:, 3] - box[:, 1], 0, None)


def _median3(a: np.ndarray) -> np.ndarray:
    if len(a) < 3:
        return a
    out = a.copy()
    out[1:-1] = np.median(np.stack([a[:-2], a[1:-1], a[2:]]), axis=0)
    return out


def _fit(width: int, height: int, aspect: float) -> tuple[int, int]:
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


def _fit_split(
    width: int, height: int, aspect: float, pair: tuple[_Face, _Face], cfg: ReframeConfig
) -> tuple[int, int]:
    """Split crops: ``split_zoom`` face heights tall, between half and all of the largest
    crop of the half-output aspect (tighter would upscale a small face into mush)."""
    _, full_h = _fit(width, height, aspect)
    face_h = max(float(np.median(f.box[:, 3] - f.box[:, 1])) for f in pair)
    h = min(full_h, max(full_h / 2, cfg.split_zoom * face_h))
    return _fit(int(h * aspect), int(h), aspect)


def _shots(start: float, end: float, cuts: list[float]) -> list[tuple[float, float, float, float]]:
    """The clip's shots as ``(lo, hi, shot_lo, shot_hi)``: the part inside the clip and the
    whole shot, whose detections outside the clip still help interpolate at its edges."""
    inner = [c for c in cuts if start + 1e-3 < c < end - 1e-3]
    before = [c for c in cuts if c <= start + 1e-3]
    after = [c for c in cuts if c >= end - 1e-3]
    bounds = [start, *inner, end]
    shot_bounds = [before[-1] if before else -math.inf, *inner, after[0] if after else math.inf]
    return [
        (bounds[i], bounds[i + 1], shot_bounds[i], shot_bounds[i + 1])
        for i in range(len(bounds) - 1)
    ]


def _grid(lo: float, hi: float, fps: float) -> np.ndarray:
    """Keyframes of one shot: every ``1/fps`` from ``lo`` and ``hi`` itself, so the shot's
    last crop is held up to the cut and the next shot starts at the same time."""
    n = max(1, math.ceil((hi - lo) * fps - 1e-9))
    return np.append(lo + np.arange(n) / fps, hi)


def _two_faces(
    faces: list[_Face], start: float, end: float, cfg: ReframeConfig
) -> tuple[_Face, _Face] | None:
    """The two heaviest faces of the clip, when they share the screen and are alike in size."""
    clip = sorted((f.within(start, end) for f in faces), key=_Face.weight, reverse=True)
    if len(clip) < 2:
        return None
    a, b = clip[0], clip[1]
    if np.median(_area(b.box)) < cfg.similar_size * np.median(_area(a.box)):
        return None
    # Samples of a with a detection of b within half a second (the analysis samples at ~2 fps).
    gaps = np.abs(b.t[None, :] - a.t[:, None]).min(axis=1)
    if np.mean(gaps <= 0.5) < cfg.co_present:
        return None
    whole = {f.id: f for f in faces}
    return whole[a.id], whole[b.id]


def _wide_target(
    both: list[_Face], ts: np.ndarray, crop: tuple[int, int], cfg: ReframeConfig
) -> np.ndarray | None:
    """Aim at the middle of two faces when both fit in the crop with a dead zone to spare
    on each side (for 80% of the shot); None keeps the dominant face."""
    a, b = (f.boxes_at(ts) for f in both)
    lo = np.minimum(a[:, :2], b[:, :2])
    hi = np.maximum(a[:, 2:], b[:, 2:])
    room = np.array(crop) * (1 - 2 * cfg.dead_zone)
    fits = np.all(hi - lo <= room, axis=1)
    if np.mean(fits) < 0.8:
        return None
    return (lo + hi) / 2


def _follow(
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


# --- ffmpeg expression ----------------------------------------------------------------------
@dataclass(frozen=True)
class _Piece:
    """``a + b*t`` from ``t0`` until the next piece starts."""

    t0: float
    a: float
    b: float


def _pieces(times: np.ndarray, values: np.ndarray, tol: float) -> list[_Piece]:
    """Fewest greedy line pieces through the samples that stay within ``tol`` of each one.
    Knots sit on samples, so the result is continuous except at cuts (repeated times),
    where a run ends and a new one starts."""
    pieces: list[_Piece] = []
    breaks = [0, *(np.flatnonzero(np.diff(times) <= 1e-9) + 1).tolist(), len(times)]
    for r0, r1 in itertools.pairwise(breaks):
        last = r1 - 1
        if r0 == last:
            pieces.append(_Piece(float(times[r0]), float(values[r0]), 0.0))
            continue
        i = r0
        while i < last:
            j = i + 1
            while j < last and _fits(times, values, i, j + 1, tol):
                j += 1
            b = float((values[j] - values[i]) / (times[j] - times[i]))
            pieces.append(_Piece(float(times[i]), float(values[i] - b * times[i]), b))
            i = j
    pieces.append(_Piece(float(times[-1]), float(values[-1]), 0.0))
    merged = [pieces[0]]
    for p in pieces[1:]:
        prev = merged[-1]
        if prev.b == 0.0 and p.b == 0.0 and abs(prev.a - p.a) < 0.005:
            continue
        if abs(p.b - prev.b) < 1e-12 and abs(p.a - prev.a) < 1e-6:
            continue
        merged.append(p)
    return merged


def _fits(times: np.ndarray, values: np.ndarray, i: int, j: int, tol: float) -> bool:
    inner = slice(i + 1, j)
    line = values[i] + (values[j] - values[i]) * (times[inner] - times[i]) / (times[j] - times[i])
    return bool(np.all(np.abs(line - values[inner]) <= tol))


def _num(v: float, digits: int) -> str:
    s = f"{v:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _leaf(p: _Piece) -> str:
    a, b = _num(p.a, 2), _num(abs(p.b), 4)
    if b == "0":
        return a
    return f"{a}{'-' if p.b < 0 else '+'}{b}*t"


def _expression(pieces: list[_Piece]) -> str:
    def tree(lo: int, hi: int) -> str:
        if hi - lo == 1:
            return _leaf(pieces[lo])
        mid = (lo + hi) // 2
        return f"if(lt(t,{_num(pieces[mid].t0, 3)}),{tree(lo, mid)},{tree(mid, hi)})"

    return tree(0, len(pieces))
