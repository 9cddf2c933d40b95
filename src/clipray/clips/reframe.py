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
from clipray.clips.framing import Face, area, fit, follow, grid
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
    crop = fit(width, height, out_w / out_h)
    faces = [f for f in (Face.of(t) for t in tracks) if f.t.size]
    in_clip = [f.within(start, end) for f in faces]
    faces = [f for f, c in zip(faces, in_clip, strict=True) if c.t.size]
    if not faces:
        box = np.array([[(width - crop[0]) / 2, (height - crop[1]) / 2, *crop]] * 2)
        return CropPath(np.array([0.0, duration]), box, "center", frame, (out_w, out_h))

    shots = _shots(start, end, sorted(float(getattr(c, "start", c)) for c in cuts))
    times = [grid(lo - start, hi - start, cfg.fps) for lo, hi, _, _ in shots]
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
                parts.append(follow(ts, target, split, frame, cfg))
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
            main = max(present, key=Face.weight)
            target = main.centres_at(ts + start)
        parts.append(follow(ts, target, crop, frame, cfg))
    return CropPath(np.concatenate(times), np.concatenate(parts), layout, frame, (out_w, out_h))


def _fit_split(
    width: int, height: int, aspect: float, pair: tuple[Face, Face], cfg: ReframeConfig
) -> tuple[int, int]:
    """Split crops: ``split_zoom`` face heights tall, between half and all of the largest
    crop of the half-output aspect (tighter would upscale a small face into mush)."""
    _, full_h = fit(width, height, aspect)
    face_h = max(float(np.median(f.box[:, 3] - f.box[:, 1])) for f in pair)
    h = min(full_h, max(full_h / 2, cfg.split_zoom * face_h))
    return fit(int(h * aspect), int(h), aspect)


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


def _two_faces(
    faces: list[Face], start: float, end: float, cfg: ReframeConfig
) -> tuple[Face, Face] | None:
    """The two heaviest faces of the clip, when they share the screen and are alike in size."""
    clip = sorted((f.within(start, end) for f in faces), key=Face.weight, reverse=True)
    if len(clip) < 2:
        return None
    a, b = clip[0], clip[1]
    if np.median(area(b.box)) < cfg.similar_size * np.median(area(a.box)):
        return None
    # Samples of a with a detection of b within half a second (the analysis samples at ~2 fps).
    gaps = np.abs(b.t[None, :] - a.t[:, None]).min(axis=1)
    if np.mean(gaps <= 0.5) < cfg.co_present:
        return None
    whole = {f.id: f for f in faces}
    return whole[a.id], whole[b.id]


def _wide_target(
    both: list[Face], ts: np.ndarray, crop: tuple[int, int], cfg: ReframeConfig
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
