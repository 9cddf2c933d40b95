"""Follow the face that speaks: which face a two-person clip shows when, as pure planning.

The analysis gives each face track a speaking score per sample (mouth motion matched
against the speech heard, ``pipelines/stages/speaking.py``). :func:`plan_turns` turns the
scores of a shot into *turns*: stretches showing one face, or both stacked (a split) while
both speak at once. A turn changes only when the new speaker has held the floor for a
moment, and at most once per ``hold`` seconds, except at a scene cut, where the picture
changes anyway; so the picture never flickers between two people talking over each other.
:func:`speaker_path` makes the crop path of a clip from the turns: a hard switch between
faces (an editor cuts between speakers, never pans across the table), and the split shown
over the speaker crop where the turns say so.

    >>> turns = plan_turns(np.arange(0, 6, 0.1), {0: left, 1: right}, 0, SpeakerConfig())
    >>> [(t.start, t.end, t.faces) for t in turns]                  # doctest: +SKIP
    [(0.0, 2.9, (0,)), (2.9, 5.9, (1,))]
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

# The module, not its names: reframe dispatches to this module and this one makes its
# paths (and a split's) with reframe's, so each reads the other's names only when called.
from clipray.clips import reframe
from clipray.clips.framing import Face, fit, follow, grid

if TYPE_CHECKING:
    from collections.abc import Sequence

    from clipray.clips.reframe import CropPath, ReframeConfig
    from clipray.schemas import Scene, Track

JobLayout = Literal["auto", "speaker", "split", "wide"]
"""A job's ``layout`` setting: ``auto`` follows the speaker and splits while two speak at
once, ``speaker`` follows the speaker and never splits, ``split`` always stacks the two
faces, ``wide`` letterboxes the whole frame."""
JOB_LAYOUTS: tuple[str, ...] = ("auto", "speaker", "split", "wide")


@dataclass(frozen=True)
class SpeakerConfig:
    """How turns are taken."""

    hold: float = 1.5
    """Shortest turn, seconds: at most one switch per ``hold`` inside a shot."""
    min_score: float = 0.15
    """A face speaks when its smoothed score reaches this; below it for everyone, nobody
    speaks and the picture stays where it is."""
    both_ratio: float = 0.6
    """Both speak when the second face's score is at least this share of the first's."""
    smooth: float = 0.6
    """Width in seconds of the centred moving average over the scores: a syllable's gap
    is not a pause. Centred, so a switch lands on the turn, not after it."""
    settle: float = 0.5
    """A new speaker takes the turn only if they keep it for this long (80% of it)."""
    split_min: float = 1.5
    """Both must speak together at least this long for a split; shorter overlaps keep the
    current speaker."""
    allow_split: bool = True
    """False: never split (the ``speaker`` layout)."""


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    faces: tuple[int, ...]
    """One face id, or two (a split: both speak)."""


def _smooth(x: np.ndarray, n: int) -> np.ndarray:
    if n <= 1 or x.size < 2:
        return x
    k = np.ones(n) / n
    return np.convolve(np.pad(x, (n // 2, n - 1 - n // 2), mode="edge"), k, mode="valid")


def _wanted(scores: dict[int, np.ndarray], cfg: SpeakerConfig) -> list[tuple[int, ...] | None]:
    ids = sorted(scores)
    s = np.stack([scores[i] for i in ids])
    out: list[tuple[int, ...] | None] = []
    for col in s.T:
        order = np.argsort(-col, kind="stable")
        a = order[0]
        if col[a] < cfg.min_score:
            out.append(None)
            continue
        b = order[1] if len(order) > 1 else None
        both = (cfg.allow_split and b is not None and col[b] >= cfg.min_score
                and col[b] >= cfg.both_ratio * col[a])  # fmt: skip
        out.append(tuple(sorted((ids[a], ids[b]))) if both else (ids[a],))
    return out


def plan_turns(times: np.ndarray, scores: dict[int, np.ndarray], default: int,
               cfg: SpeakerConfig) -> list[Turn]:  # fmt: skip
    """The turns of one shot (no cut inside).

    Args:
        times: the shot's grid (seconds, increasing, evenly spaced).
        scores: face id -> its speaking score on ``times`` (0 where it is not on screen).
        default: the face shown while nobody has spoken yet (the shot's main face).

    Returns:
        Turns covering ``[times[0], times[-1]]`` in order; two switches are at least
        ``cfg.hold`` apart (the last turn may be shorter: the shot ends it).
    """
    if times.size == 0:
        return []
    if not scores:
        return [Turn(float(times[0]), float(times[-1]), (default,))]
    step = float(times[1] - times[0]) if times.size > 1 else 1.0
    smooth = {k: _smooth(np.asarray(v, float), round(cfg.smooth / step)) for k, v in scores.items()}
    wanted = _wanted(smooth, cfg)
    first = next((w for w in wanted if w is not None), None)
    state: tuple[int, ...] = first if first is not None else (default,)
    starts, states = [float(times[0])], [state]
    last = float(times[0])
    for i, w in enumerate(wanted):
        t = float(times[i])
        if w is None or w == state or t - last < cfg.hold - 1e-9:
            continue
        ahead = (cfg.split_min if len(w) > 1 else cfg.settle) / step
        window = wanted[i : i + max(1, round(ahead))]
        if len(window) < ahead * 0.8 or sum(x == w for x in window) < 0.8 * len(window):
            continue
        state, last = w, t
        starts.append(t)
        states.append(w)
    ends = [*starts[1:], float(times[-1])]
    return [Turn(a, b, s) for a, b, s in zip(starts, ends, states, strict=True)]


def _scores_at(face: Face, ts: np.ndarray, reach: float) -> np.ndarray:
    """The face's speaking score at ``ts``, 0 further than ``reach`` from a detection."""
    if face.t.size == 0:
        return np.zeros(ts.size)
    s = np.interp(ts, face.t, face.speaking)
    near = np.abs(face.t[None, :] - ts[:, None]).min(axis=1) <= reach
    return np.where(near, s, 0.0)


def follows(pair: tuple[Face, Face] | None, cfg: ReframeConfig) -> bool:
    """Whether a clip follows the speaker: two faces share it, both with speaking scores,
    and the layout is ``auto`` or ``speaker``."""
    return (pair is not None and cfg.layout in ("auto", "speaker")
            and all(f.speaking.size for f in pair))  # fmt: skip


def speaker_path(
    frame: tuple[int, int], start: float, end: float, tracks: Sequence[Track],
    cuts: Sequence[float | Scene], faces: list[Face],
    shots: list[tuple[float, float, float, float]], cfg: ReframeConfig,
) -> CropPath:  # fmt: skip
    """The crop path following the speaking face among ``faces``; with ``layout`` auto,
    the clip's split path is shown where both speak (all of it when they always do)."""
    width, height = frame
    split = None
    if cfg.layout == "auto":
        split = reframe.crop_path(width, height, start, end, tracks, cuts,
                                  replace(cfg, layout="split"))  # fmt: skip
        split = split if split.layout == "split" else None
    faces = [f for f in faces if f.speaking.size]
    scfg = SpeakerConfig(allow_split=split is not None)
    out_w, out_h = cfg.output_size
    crop = fit(width, height, out_w / out_h)
    times, parts, spans = [], [], []
    shown_id = -1
    for lo, hi, plo, phi in shots:
        present = {f.id: f for f in (f.within(plo, phi) for f in faces) if f.t.size}
        keys = grid(lo, hi, cfg.fps)[:-1] if hi - lo > 1 / cfg.fps else np.array([lo])
        scores = {k: _scores_at(f, keys, 0.75) for k, f in present.items()}
        main = max(present.values(), key=Face.weight).id if present else -1
        for turn in plan_turns(keys, scores, main, scfg):
            stop = hi if turn.end >= keys[-1] else turn.end
            ts = grid(turn.start - start, stop - start, cfg.fps)
            if len(turn.faces) > 1:  # the split covers it; the crop behind keeps still
                spans.append((float(ts[0]), float(ts[-1])))
                shown_id = shown_id if shown_id in present else turn.faces[0]
            else:
                shown_id = turn.faces[0]
            shown = present.get(shown_id)
            target = shown.centres_at(ts + start) if shown is not None else None
            parts.append(follow(ts, target, crop, frame, cfg))
            times.append(ts)
    spans = _merge(spans)
    if split is not None and spans and sum(b - a for a, b in spans) >= (end - start) - 1e-6:
        return split
    return reframe.CropPath(np.concatenate(times), np.concatenate(parts), "speaker", frame,
                            (out_w, out_h), overlay=split if spans else None,
                            overlay_spans=tuple(spans))  # fmt: skip


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in spans:
        if out and a <= out[-1][1] + 1e-6:
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        else:
            out.append((a, b))
    return out


def letterbox_path(width: int, height: int, duration: float, cfg: ReframeConfig) -> CropPath:
    """The whole frame, fitted inside the output and padded (the ``wide`` layout)."""
    box = np.array([[0.0, 0.0, width - width % 2, height - height % 2]] * 2)
    return reframe.CropPath(np.array([0.0, duration]), box, "letterbox", (width, height),
                            cfg.output_size)  # fmt: skip


def ffmpeg_filter(path: CropPath, tolerance: float = 1.0) -> str:
    """``CropPath.to_ffmpeg_filter`` of a ``letterbox`` path, and of a ``speaker`` path with
    a split overlay: both crops are drawn and the split covers the speaker crop while
    ``overlay=enable`` is true, in one filter graph (one FFmpeg pass)."""
    out_w, out_h = path.output_size
    if path.layout == "letterbox":
        return (f"scale={out_w}:{out_h}:force_original_aspect_ratio=decrease,"
                f"pad={out_w}:{out_h}:-1:-1,setsar=1")  # fmt: skip
    assert path.overlay is not None
    on = "+".join(f"between(t,{a:.3f},{b:.3f})" for a, b in path.overlay_spans)
    return (f"split=2[one][two];[one]{path.to_ffmpeg_expr(0, tolerance)},"
            f"scale={out_w}:{out_h},setsar=1[solo];[two]"
            f"{path.overlay.to_ffmpeg_filter(tolerance)}[duo];"
            f"[solo][duo]overlay=enable='{on}',setsar=1")  # fmt: skip
