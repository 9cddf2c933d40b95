"""Planning a clip's effects graph from its moment, the analysis and the job's settings.

    >>> cfg = EffectsConfig(hook="auto")
    >>> g = plan_graph(cfg, [], 0.0, 20.0, "Why sleep matters", (), (), lambda t: None)
    >>> g.hook.text
    'Why sleep matters'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from clipray.clips.effects.audio import CensorConfig, plan_audio
from clipray.clips.effects.fillers import FillerConfig, plan_cut, retime
from clipray.clips.effects.graph import Brand, EffectsGraph, Hook, Step
from clipray.clips.effects.zooms import FaceAt, ZoomStyle, emphasis_times, plan_zooms
from clipray.clips.reframe import CropPath
from clipray.domain.brand import BrandKit
from clipray.schemas import Track, Word

HOOK_AUTO = "auto"
"""``hook``: the clip's title is the hook."""


@dataclass(frozen=True)
class EffectsConfig:
    """Which effects a job (or a re-render) asks for; the defaults add none."""

    zooms: ZoomStyle | None = None
    """The zoom style, None: no zooms."""
    hook: str | None = None
    """The hook's text, :data:`HOOK_AUTO` for the clip's title, None: no hook."""
    remove_fillers: bool = False
    """Cut "um", "uh" and long pauses out of the clip."""
    censor: CensorConfig | None = None
    """Words muted (or bleeped) in the sound and starred in the captions; None: none."""
    denoise: bool = False
    """FFT noise reduction of the clip's sound."""
    music: str | None = None
    """A music track (a workspace object key, or a local path from the CLI) ducked under
    the speech; None: none."""
    brand: BrandKit | None = None
    """The brand kit applied (logo, caption colours and font, intro, outro); None: none."""
    brand_keys: tuple[str | None, str | None] = (None, None)
    """The object keys of ``brand``'s intro and outro sources (looked up by the service
    that plans: the pure core reads no database)."""

    @property
    def any(self) -> bool:
        return bool(self.zooms or self.hook or self.remove_fillers or self.censor
                    or self.denoise or self.music or self.brand)  # fmt: skip


def plan_graph(
    cfg: EffectsConfig, words: Sequence[Word], start: float, end: float, title: str,
    keywords: Sequence[str], peaks: Sequence[float], face_at: FaceAt,
) -> EffectsGraph:  # fmt: skip
    """The graph of the clip ``[start, end)`` of the source. ``peaks``: audio peaks in
    source seconds; ``face_at``: the followed face on the output frame at a span time
    (see :func:`faces_on_output`)."""
    steps: list[Step] = []
    cut = plan_cut(words, start, end, FillerConfig()) if cfg.remove_fillers else None
    if cut is not None:
        steps.append(cut)
    duration = cut.duration if cut is not None else end - start
    out_words = retime(words, start, cut)
    if cfg.zooms:
        mapped = [p - start for p in peaks if start <= p < end]
        if cut is not None:
            mapped = [t for p in mapped if (t := cut.map_time(p)) is not None]
        emphasis = emphasis_times(((w.start, w.word) for w in out_words), keywords, mapped)
        to_span = cut.source_time if cut is not None else (lambda t: t)
        zooms = plan_zooms(emphasis, duration, cfg.zooms, lambda t: face_at(to_span(t)))
        if zooms.zooms:
            steps.append(zooms)
    text = (title if cfg.hook == HOOK_AUTO else cfg.hook or "").strip()
    if text:
        steps.append(Hook(text[:120], min(3.0, max(duration / 2, 0.5))))
    inside = [w for w in out_words if w.end > 0 and w.start < duration]
    if cfg.brand is not None:
        steps.append(Brand.of(cfg.brand, *cfg.brand_keys))
    audio = plan_audio(inside, duration, cfg.censor, cfg.denoise, cfg.music)
    if audio is not None:
        steps.append(audio)
    return EffectsGraph(tuple(steps))


def faces_on_output(path: CropPath | None, tracks: Sequence[Track], start: float
                    ) -> Callable[[float], tuple[float, float, float, float] | None]:  # fmt: skip
    """The face the crop follows at a span time, on the output frame (fractions): the
    detection nearest in time of the face whose box overlaps the crop most. A split
    layout has two faces in one frame: the whole frame is the face, so no zoom crops
    either."""

    def at(t: float) -> tuple[float, float, float, float] | None:
        if path is None:
            return None
        if path.layout == "split":
            return (0.0, 0.0, 1.0, 1.0)
        x, y, w, h = (float(v) for v in path.at(t))
        best, score = None, 0.0
        for track in tracks:
            near = [d for d in track.detections if abs(d.t - (start + t)) <= 1.0]
            if not near:
                continue
            d = min(near, key=lambda d: abs(d.t - (start + t)))
            x1, y1, x2, y2 = d.box
            ix = max(0.0, min(x2, x + w) - max(x1, x))
            iy = max(0.0, min(y2, y + h) - max(y1, y))
            if ix * iy > score:
                best, score = d.box, ix * iy
        if best is None:
            return None
        x1, y1, x2, y2 = best
        box = np.clip([(x1 - x) / w, (y1 - y) / h, (x2 - x) / w, (y2 - y) / h], 0.0, 1.0)
        return (float(box[0]), float(box[1]), float(box[2]), float(box[3]))

    return at


__all__ = ["HOOK_AUTO", "EffectsConfig", "faces_on_output", "plan_graph"]
