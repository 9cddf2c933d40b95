"""Magic zooms: push in on moments of emphasis, never losing the face.

Emphasis is a keyword said (the moment's keywords and hashtags) or a peak of the audio's
loudness; both come from the analysis. Each zoom is centred on the face the reframe
follows (its box on the output frame, from the planned crop path), at a scale small
enough that the whole box fits the zoomed window, with the window kept inside the frame:
so the face stays in frame on every frame, through the ease in and out too.

:func:`zoom_filter` draws a :class:`~clipray.clips.effects.graph.Zooms` step as one
``zoompan`` filter on output-size frames (``it`` is the frame's time in seconds).

    >>> plan = plan_zooms([1.0, 6.0], 10.0, "smooth", lambda t: (0.4, 0.2, 0.6, 0.45))
    >>> [(z.start, z.scale) for z in plan.zooms]
    [(0.8, 1.25), (5.8, 1.25)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from clipray.clips.effects.graph import Zoom, Zooms, ZoomStyle

FaceAt = Callable[[float], tuple[float, float, float, float] | None]
"""The followed face's box ``(x1, y1, x2, y2)`` on the output frame at an output time,
as fractions of its width and height; None where no face is known."""


@dataclass(frozen=True)
class ZoomConfig:
    scale: float = 1.25
    """How far a zoom pushes in: noticeable on a phone, not so far that it blurs."""
    lead: float = 0.2
    """A zoom starts this long (seconds) before the emphasis: it lands on the word."""
    length: dict[str, float] | None = None
    min_gap: float = 3.0
    """Seconds between zooms: more often reads as a tic."""
    face_margin: float = 0.85
    """The face's box fills at most this share of the zoomed window."""
    ease: float = 0.3
    """``smooth``: seconds of easing in and out."""


LENGTHS: dict[str, float] = {"smooth": 1.6, "snap": 1.2, "ken_burns": 3.0, "pulse": 0.5}


def emphasis_times(
    words: Iterable[tuple[float, str]], keywords: Iterable[str], peaks: Iterable[float]
) -> list[float]:
    """Output times of emphasis: words (``(t, text)``, on the output's timeline) that are
    one of ``keywords``, and audio ``peaks``; sorted."""
    keys = {k.lower().strip("#").strip() for k in keywords if k.strip("#").strip()}
    hits = [t for t, w in words if "".join(c for c in w.lower() if c.isalnum()) in keys]
    return sorted({round(t, 3) for t in [*hits, *peaks]})


def plan_zooms(
    emphasis: Sequence[float], duration: float, style: ZoomStyle, face_at: FaceAt,
    cfg: ZoomConfig | None = None,
) -> Zooms:  # fmt: skip
    """Zooms at the ``emphasis`` times (output seconds), at least ``min_gap`` apart, each
    centred on the face at its middle (the frame's centre without a face)."""
    cfg = cfg or ZoomConfig()
    length = (cfg.length or LENGTHS)[style]
    out: list[Zoom] = []
    for t in sorted(emphasis):
        start = round(max(t - cfg.lead, 0.0), 3)
        end = round(min(start + length, duration), 3)
        if end - start < length / 2 or (out and start < out[-1].end + cfg.min_gap):
            continue
        face = face_at((start + end) / 2)
        scale, cx, cy = cfg.scale, 0.5, 0.5
        if face is not None:
            x1, y1, x2, y2 = face
            fit = cfg.face_margin / max(x2 - x1, y2 - y1, 1e-6)
            scale = max(1.0, min(scale, fit))
            cx, cy = _inside((x1 + x2) / 2, scale), _inside((y1 + y2) / 2, scale)
        if scale < 1.05:  # the face fills the frame (or two faces share it): no room
            continue
        out.append(Zoom(start, end, round(scale, 4), round(cx, 4), round(cy, 4)))
    return Zooms(style, tuple(out))


def _inside(c: float, scale: float) -> float:
    """A window centre that keeps a window of ``1/scale`` inside the frame."""
    half = 0.5 / scale
    return min(max(c, half), 1 - half)


def envelope(style: str, z: Zoom, ease: float = 0.3) -> str:
    """How far (0..1) zoom ``z`` is in at time ``it``, as an FFmpeg expression."""
    a, b = z.start, z.end
    inside = f"between(it,{a},{b})"
    if style == "snap":
        return inside
    if style == "ken_burns":
        return f"{inside}*(it-{a})/{b - a}"
    if style == "pulse":
        return f"{inside}*sin(PI*(it-{a})/{b - a})"
    e = f"clip(min((it-{a})/{ease},({b}-it)/{ease}),0,1)"  # smooth: smoothstep of a ramp
    return f"{inside}*{e}*{e}*(3-2*{e})"


def window(style: str, z: Zoom, t: float, ease: float = 0.3) -> tuple[float, float, float, float]:
    """The visible window ``(x1, y1, x2, y2)`` (fractions of the frame) at time ``t`` inside
    zoom ``z``: what :func:`zoom_filter` draws, for checks."""
    import math

    u = 0.0
    if z.start <= t <= z.end:
        if style == "snap":
            u = 1.0
        elif style == "ken_burns":
            u = (t - z.start) / (z.end - z.start)
        elif style == "pulse":
            u = math.sin(math.pi * (t - z.start) / (z.end - z.start))
        else:
            e = min(max(min((t - z.start) / ease, (z.end - t) / ease), 0.0), 1.0)
            u = e * e * (3 - 2 * e)
    scale = 1 + (z.scale - 1) * u
    half = 0.5 / scale
    cx, cy = _inside(z.cx, scale), _inside(z.cy, scale)
    return cx - half, cy - half, cx + half, cy + half


def zoom_filter(step: Zooms, size: tuple[int, int], fps: int = 30) -> str | None:
    """One ``zoompan`` drawing every zoom of ``step`` on ``size`` frames; None without
    zooms (a passthrough)."""
    if not step.zooms:
        return None
    w, h = size
    z = "1" + "".join(f"+{zz.scale - 1:.4f}*{envelope(step.style, zz)}" for zz in step.zooms)
    cx = cy = "0.5"
    for zz in reversed(step.zooms):
        cx = f"if(between(it,{zz.start},{zz.end}),{zz.cx},{cx})"
        cy = f"if(between(it,{zz.start},{zz.end}),{zz.cy},{cy})"
    x = f"clip(({cx})*iw-iw/zoom/2,0,iw-iw/zoom)"
    y = f"clip(({cy})*ih-ih/zoom/2,0,ih-ih/zoom)"
    return f"zoompan=z='{z}':x='{x}':y='{y}':d=1:s={w}x{h}:fps={fps}"
