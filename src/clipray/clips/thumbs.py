"""A clip's thumbnail candidates: which frames, and the title set over them (pure).

A poster has to be sharp (motion blur and a cut's dissolve make poor ones), shows a face when
the clip has one, and the three offered must differ, or there is no choice to make. So each
sampled frame is scored by its sharpness (the variance of the Laplacian of its grey picture,
relative to the sharpest sample) plus the size and confidence of a face seen near it, and the
best are taken greedily, each at least ``min_gap_s`` from and visibly different to (a mean
difference of small grey thumbnails) those already taken. Everything is deterministic: the
same frames give the same picks.

    >>> picks = choose(frames, faces, ThumbConfig())                    # doctest: +SKIP
    >>> titled(frames[picks[0]].rgb, "Ask not what").save("t.jpg")     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from clipray.schemas import Track

THUMBNAIL_CANDIDATES = 3
"""Thumbnails offered per clip: ``thumbnail.jpg`` (the one readers already know) and
``thumbnail-1.jpg``, ``thumbnail-2.jpg``."""

FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
)
"""The brand font where the system has it; Pillow's own scalable font otherwise."""


def candidate_name(n: int) -> str:
    """The file name of candidate ``n``: candidate 0 keeps the name every reader knows."""
    return "thumbnail.jpg" if n == 0 else f"thumbnail-{n}.jpg"


@dataclass(frozen=True)
class ThumbConfig:
    count: int = THUMBNAIL_CANDIDATES
    min_gap_s: float = 1.0
    """Two picks at least this far apart: a second of a talking head already differs."""
    min_diff: float = 6.0
    """Mean absolute difference (0-255) of two picks' 16x16 grey thumbnails: below it they
    look the same at poster size."""
    face_weight: float = 1.0
    """A face filling the frame at full confidence counts as much as the sharpest frame."""
    face_window_s: float = 0.5
    """A face detection counts for the frames this close to it (faces are sampled sparsely)."""


@dataclass(frozen=True)
class Frame:
    t: float
    """Seconds on the rendered clip's timeline."""
    rgb: np.ndarray
    """``(H, W, 3)`` uint8."""


@dataclass(frozen=True)
class FaceAt:
    """A face seen at ``t`` (clip time) covering ``area`` (0-1) of its frame, with the
    detector's ``score``."""

    t: float
    area: float
    score: float


ToClip = Callable[[float], float | None]
"""Span time to clip time, None where effects cut it away (``BaseCut.map_time``)."""


def faces_in(tracks: Sequence[Track], start: float, end: float, size: tuple[int, int],
             to_clip: ToClip | None = None) -> tuple[FaceAt, ...]:  # fmt: skip
    """The faces detected in ``[start, end)`` of the source (frames of ``size`` pixels), on the
    clip's timeline: ``t - start``, or ``to_clip(t)`` where effects cut the clip (a face in a
    cut-away part, None, is dropped)."""
    area = float(size[0] * size[1]) or 1.0
    out = []
    for track in tracks:
        for d in track.detections:
            if start <= d.t < end:
                at = to_clip(d.t - start) if to_clip is not None else d.t - start
                x1, y1, x2, y2 = d.box
                if at is not None:
                    out.append(FaceAt(at, max(x2 - x1, 0) * max(y2 - y1, 0) / area, d.score))
    return tuple(sorted(out, key=lambda f: (f.t, -f.score)))


def best_face_at(tracks: Sequence[Track], start: float, end: float) -> float:
    """Clip time of the most confident face in ``[start, end)``, else the middle: the frame a
    caption preview shows (``plan["thumbnail_at"]``)."""
    best, at = -1.0, (end - start) / 2
    for track in tracks:
        for d in track.detections:
            if start <= d.t < end and d.score > best:
                best, at = d.score, d.t - start
    return at


def faces_json(faces: Sequence[FaceAt]) -> list[list[float]]:
    """``[[t, area, score], ...]``, rounded: how a clip's stored plan keeps its faces."""
    return [[round(f.t, 3), round(f.area, 4), round(f.score, 3)] for f in faces]


def faces_of(doc: Sequence[Sequence[float]]) -> tuple[FaceAt, ...]:
    """The inverse of :func:`faces_json`."""
    return tuple(FaceAt(float(t), float(a), float(s)) for t, a, s in doc)


def grey(rgb: np.ndarray) -> np.ndarray:
    """Luma (BT.601) as float."""
    return rgb[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def sharpness(g: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian: edges make it large, blur flattens it."""
    lap = (g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]) - 4.0 * g[1:-1, 1:-1]
    return float(lap.var()) if lap.size else 0.0


def signature(g: np.ndarray, side: int = 16) -> np.ndarray:
    """A ``side`` x ``side`` block-mean thumbnail, for telling frames apart."""
    h, w = g.shape
    rows = np.array_split(np.arange(h), side) if h >= side else [np.arange(h)]
    cols = np.array_split(np.arange(w), side) if w >= side else [np.arange(w)]
    return np.array([[g[np.ix_(r, c)].mean() for c in cols] for r in rows])


def face_bonus(t: float, faces: Sequence[FaceAt], window: float) -> float:
    """The best face near ``t``: its area (square-rooted: a small face still counts) times
    its confidence; 0 without one."""
    near = [f.score * min(f.area, 1.0) ** 0.5 for f in faces if abs(f.t - t) <= window]
    return max(near, default=0.0)


def scores(frames: Sequence[Frame], faces: Sequence[FaceAt], cfg: ThumbConfig) -> list[float]:
    """Each frame's merit: sharpness relative to the sharpest, plus its face bonus."""
    sharp = [sharpness(grey(f.rgb)) for f in frames]
    top = max(sharp, default=0.0) or 1.0
    return [s / top + cfg.face_weight * face_bonus(f.t, faces, cfg.face_window_s)
            for s, f in zip(sharp, frames, strict=True)]  # fmt: skip


def choose(frames: Sequence[Frame], faces: Sequence[FaceAt] = (),
           cfg: ThumbConfig | None = None) -> list[int]:  # fmt: skip
    """Indices of up to ``cfg.count`` frames, best first, apart in time and in look.

    Where the clip is too short or too still for that many varied picks, the look and then
    the gap are relaxed in turn, so a clip with ``count`` frames always gets ``count``."""
    cfg = cfg or ThumbConfig()
    merit = scores(frames, faces, cfg)
    sigs = [signature(grey(f.rgb)) for f in frames]
    order = sorted(range(len(frames)), key=lambda i: (-merit[i], frames[i].t))
    picked: list[int] = []
    for gap, diff in ((cfg.min_gap_s, cfg.min_diff), (cfg.min_gap_s, 0.0), (0.0, 0.0)):
        for i in order:
            if len(picked) == cfg.count:
                return picked
            if i in picked:
                continue
            if all(abs(frames[i].t - frames[j].t) >= gap and _apart(sigs[i], sigs[j], diff)
                   for j in picked):  # fmt: skip
                picked.append(i)
    return picked


def _apart(a: np.ndarray, b: np.ndarray, diff: float) -> bool:
    return float(np.abs(a - b).mean()) >= diff


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in FONT_PATHS:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
          width: float) -> list[str]:  # fmt: skip
    """Greedy word wrap to ``width`` pixels; a word wider than the line is cut to fit."""
    lines: list[str] = []
    for word in text.split():
        while draw.textlength(word, font=font) > width and len(word) > 1:
            word = word[:-2] + "…"
        line = f"{lines[-1]} {word}" if lines else word
        if lines and draw.textlength(line, font=font) <= width:
            lines[-1] = line
        else:
            lines.append(word)
    return lines


def titled(rgb: np.ndarray, title: str, max_lines: int = 3) -> Image.Image:
    """The frame with ``title`` over its lower part: white text outlined in black on a dark
    band, so it reads on any picture; wrapped to the width and kept inside the frame (the
    font shrinks until ``max_lines`` lines fit)."""
    img = Image.fromarray(np.ascontiguousarray(rgb[..., :3]), "RGB")
    text = " ".join(title.split())
    if not text:
        return img
    w, h = img.size
    side = min(w, h)  # a landscape frame sizes its title by its height, a portrait by its width
    margin = max(side // 20, 4)
    draw = ImageDraw.Draw(img, "RGBA")
    size = max(side // 12, 10)
    while True:
        font = _font(size)
        lines = _wrap(draw, text, font, w - 2 * margin)
        if len(lines) <= max_lines or size <= 10:
            break
        size = max(int(size * 0.85), 10)
    lines = lines[:max_lines]
    line_h = int(size * 1.25)
    band = line_h * len(lines) + 2 * margin
    top = max(h - band - h // 10, 0)
    draw.rectangle((0, top, w, min(top + band, h)), fill=(0, 0, 0, 150))
    stroke = max(size // 12, 1)
    for k, line in enumerate(lines):
        x = (w - draw.textlength(line, font=font)) / 2
        draw.text((x, top + margin + k * line_h), line, font=font, fill=(255, 255, 255),
                  stroke_width=stroke, stroke_fill=(0, 0, 0))  # fmt: skip
    return img
