"""Silence and filler removal: which parts of a span to keep, from the word timings.

Fillers ("um", "uh", ...) are cut out with the pause around them; a pause longer than
``max_pause`` is shortened to ``pad`` on each side of the speech. Cut points are put on
the output's frame grid (so picture and sound cut on the same instant) and the parts are
joined by a one-frame audio crossfade (:class:`~clipray.clips.effects.graph.BaseCut`).
:func:`retime` moves the kept words onto the output's timeline, for the captions.

    >>> from clipray.schemas import Word
    >>> ws = [Word(0.2, 0.5, " So", 1), Word(0.6, 0.9, " um,", 1), Word(1.0, 1.4, " yes", 1)]
    >>> cut = plan_cut(ws, 0.0, 2.0, FillerConfig())
    >>> [w.word for w in retime(ws, 0.0, cut)]
    [' So', ' yes']
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from clipray.clips.effects.graph import FPS, BaseCut
from clipray.schemas import Word

FILLERS: frozenset[str] = frozenset({"um", "uh", "umm", "uhm", "erm", "er", "ah", "hmm", "mm"})
_WORD = re.compile(r"[^\w']+")


@dataclass(frozen=True)
class FillerConfig:
    fillers: frozenset[str] = FILLERS
    max_pause: float = 0.6
    """A pause longer than this (seconds) is shortened: short-form video has no dead air."""
    pad: float = 0.15
    """Silence kept before and after speech at a cut: breath room, and where the
    crossfade falls (never on a word)."""


def is_filler(word: str, fillers: frozenset[str] = FILLERS) -> bool:
    return _WORD.sub("", word.lower()) in fillers


def plan_cut(words: Sequence[Word], start: float, end: float, cfg: FillerConfig) -> BaseCut | None:
    """The parts of ``[start, end)`` to keep (seconds from ``start``); None when nothing
    would be removed (the step is then a passthrough)."""
    span = end - start
    timed = sorted(
        (max(w.start - start, 0.0), min(w.end - start, span), is_filler(w.word, cfg.fillers))
        for w in words
        if w.end > start and w.start < end
    )
    fillers = [(a, b) for a, b, f in timed if f]
    runs: list[list[float]] = []
    for a, b, filler in timed:
        if filler:
            continue
        joined = runs and a - runs[-1][1] <= cfg.max_pause and not any(
            runs[-1][1] <= fa < a for fa, _ in fillers
        )
        if joined:
            runs[-1][1] = max(runs[-1][1], b)
        else:
            runs.append([a, b])
    if not runs:
        return None
    keep = []
    for k, (a, b) in enumerate(runs):
        before = max((fb for fa, fb in fillers if fb <= a), default=None)
        after = min((fa for fa, fb in fillers if fa >= b), default=None)
        lo = max(a - cfg.pad, before if before is not None else 0.0)
        hi = min(b + cfg.pad, after if after is not None else span)
        if k == 0 and before is None and a <= cfg.max_pause:
            lo = 0.0
        if k == len(runs) - 1 and after is None and span - b <= cfg.max_pause:
            hi = span
        # a bound set by a filler rounds away from it: not a frame of "um" is kept
        keep.append((lo, hi, before is not None and lo == before,
                     after is not None and hi == after))  # fmt: skip
    parts = _on_grid(keep, span)
    if not parts or (len(parts) == 1 and parts[0][0] <= 1e-9
                     and parts[0][1] >= _floor(span) - 1e-9):  # fmt: skip
        return None
    return BaseCut(tuple(parts))


def _floor(t: float) -> float:
    return math.floor(t * FPS + 1e-6) / FPS


def _on_grid(keep: list[tuple[float, float, bool, bool]], span: float
             ) -> list[tuple[float, float]]:  # fmt: skip
    """Parts with boundaries on the nearest frame (inwards where a flag says so; never past
    the span), overlapping ones merged, those too short for a crossfade dropped."""
    out: list[tuple[float, float]] = []
    for lo, hi, lo_in, hi_in in keep:
        a = (math.ceil(lo * FPS - 1e-6) if lo_in else round(lo * FPS)) / FPS
        b = (math.floor(hi * FPS + 1e-6) if hi_in else round(hi * FPS)) / FPS
        b = min(b, _floor(span))
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        elif b - a >= 3 / FPS:
            out.append((a, b))
    return [(round(a, 6), round(b, 6)) for a, b in out]


def retime(words: Sequence[Word], start: float, cut: BaseCut | None) -> list[Word]:
    """The words on the output's timeline (0 is the clip's first frame); words cut away
    are dropped. Without a cut, the words only move by ``start``."""
    out = []
    for w in words:
        s = w.start - start
        if cut is None:
            out.append(replace(w, start=s, end=w.end - start))
            continue
        mid = cut.map_time((s + w.end - start) / 2)
        if mid is None:  # most of the word was cut away (a filler)
            continue
        t = cut.map_time(s)
        t = mid - (w.end - w.start) / 2 if t is None else t
        out.append(replace(w, start=max(t, 0.0), end=t + (w.end - w.start)))
    return out
