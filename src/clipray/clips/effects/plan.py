"""Planning a clip's effects graph from its moment, the analysis and the job's settings.

    >>> cfg = EffectsConfig(hook="auto")
    >>> g = plan_graph(cfg, [], 0.0, 20.0, "Why sleep matters", (), (), lambda t: None)
    >>> g.hook.text
    'Why sleep matters'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from clipray.clips.broll import Library, choose_broll, choose_sfx
from clipray.clips.effects.audio import CensorConfig, plan_audio
from clipray.clips.effects.beats import Beats, snap_cut, snap_steps
from clipray.clips.effects.brand import brand_step
from clipray.clips.effects.fillers import FillerConfig, plan_cut, retime
from clipray.clips.effects.graph import (
    FPS,
    BaseCut,
    EffectsGraph,
    Hook,
    Step,
    Transitions,
    TransitionStyle,
)
from clipray.clips.effects.zooms import FaceAt, ZoomStyle, emphasis_times, plan_zooms
from clipray.clips.reframe import CropPath
from clipray.domain.brand import BrandKit
from clipray.domain.errors import CodedError
from clipray.schemas import Track, Word

HOOK_AUTO = "auto"
"""``hook``: the clip's title is the hook."""


class BeatSyncNeedsMusic(CodedError):
    """``beat_sync`` asked for without a music track: there are no beats to cut to."""

    status = 422

    def __init__(self) -> None:
        super().__init__("BEAT_SYNC_NEEDS_MUSIC", "beat_sync needs a music track (music)")


def check_beat_sync(beat_sync: bool | None, music: str | None) -> None:
    """Refuse ``beat_sync`` without ``music`` (a job's settings, a re-render's).

    Raises:
        BeatSyncNeedsMusic: 422 ``BEAT_SYNC_NEEDS_MUSIC``.
    """
    if beat_sync and not music:
        raise BeatSyncNeedsMusic


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
    transition: TransitionStyle | None = None
    """How the parts left by filler removal join on screen (crossfade, wipe, zoom); None:
    straight cuts. Without ``remove_fillers`` a clip is one part, with nothing to join."""
    broll: bool = False
    """Cut away to the workspace library's B-roll where the clip talks about what it shows."""
    sfx: bool = False
    """Play the library's sound effects on the spoken words they are tagged with."""
    brand_keys: tuple[str | None, str | None] = (None, None)
    """The object keys of the kit's intro and outro sources' videos (the caller looks them
    up: the plan reads no database)."""
    beat_sync: bool = False
    """Cut points (joins, zoom starts, B-roll edges) snapped to the music's beats; needs
    ``music``."""

    def __post_init__(self) -> None:
        check_beat_sync(self.beat_sync, self.music)

    @property
    def any(self) -> bool:
        return bool(self.zooms or self.hook or self.remove_fillers or self.censor
                    or self.denoise or self.music or self.brand or self.transition
                    or self.broll or self.sfx)  # fmt: skip


TRANSITION_FRAMES = 7
"""A transition's length in frames (about 0.23 s): whole frames, so every join starts on
the frame grid, and under the silence of a cut's two pads (2 x 0.15 s), so the
crossfading sound overlaps pauses more than words."""


def plan_transitions(cut: BaseCut, style: TransitionStyle) -> tuple[BaseCut, Transitions]:
    """``cut`` with its parts overlapping by a transition's length, and the transitions
    step: :data:`TRANSITION_FRAMES`, less where a part is too short to hold two
    (one frame at the least). The clip so gets shorter by that length at every join.

    Raises:
        GraphError: ``cut`` has a single part (nothing to join)."""
    shortest = min(round((b - a) * FPS) for a, b in cut.keep)
    duration = max(min(TRANSITION_FRAMES, shortest // 2), 1) / FPS
    joins = Transitions(style, duration)
    joined = replace(cut, crossfade=duration)
    EffectsGraph((joined, joins))  # checks that the two fit
    return joined, joins


def plan_graph(
    cfg: EffectsConfig, words: Sequence[Word], start: float, end: float, title: str,
    keywords: Sequence[str], peaks: Sequence[float], face_at: FaceAt,
    library: Library | None = None,
    beats: Beats | None = None,
) -> EffectsGraph:  # fmt: skip
    """The graph of the clip ``[start, end)`` of the source. ``peaks``: audio peaks in
    source seconds; ``face_at``: the followed face on the output frame at a span time
    (see :func:`faces_on_output`); ``library``: the workspace's B-roll and sound effects
    (``broll`` and ``sfx`` choose from it; None or empty: none); ``beats``: the music
    track's, for ``beat_sync`` (the cut is snapped first, the rest planned on its
    timeline, then snapped)."""
    steps: list[Step] = []
    cut = plan_cut(words, start, end, FillerConfig()) if cfg.remove_fillers else None
    on_beat = beats.until(end - start + 1.0) if cfg.beat_sync and beats is not None else []
    if cut is not None and on_beat:
        spoken = [(w.start - start, w.end - start) for w in words
                  if w.end > start and w.start < end]  # fmt: skip
        cut = snap_cut(cut, spoken, on_beat)
    if cut is not None and cfg.transition and len(cut.keep) > 1:
        cut, joins = plan_transitions(cut, cfg.transition)
        steps.append(joins)
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
    if cfg.broll and library is not None:
        broll = choose_broll(out_words, duration, library, keywords)
        if broll is not None:
            steps.append(broll)
    text = (title if cfg.hook == HOOK_AUTO else cfg.hook or "").strip()
    if text:
        steps.append(Hook(text[:120], min(3.0, max(duration / 2, 0.5))))
    inside = [w for w in out_words if w.end > 0 and w.start < duration]
    if cfg.sfx and library is not None:
        sfx = choose_sfx(inside, duration, library)
        if sfx is not None:
            steps.append(sfx)
    audio = plan_audio(inside, duration, cfg.censor, cfg.denoise, cfg.music)
    if audio is not None:
        steps.append(replace(audio, beat_sync=True) if cfg.beat_sync and audio.music else audio)
    if (brand := brand_step(cfg.brand, cfg.brand_keys)) is not None:
        steps.append(brand)
    if on_beat:
        steps = snap_steps(steps, on_beat, duration)
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


__all__ = ["HOOK_AUTO", "TRANSITION_FRAMES", "BeatSyncNeedsMusic", "EffectsConfig",
           "check_beat_sync", "faces_on_output", "plan_graph", "plan_transitions"]  # fmt: skip
