"""Beat-synced cuts: the effects graph's cut points moved onto the music's beats.

With a music track under a clip (the audio step's ``music``), a cut that lands on a beat
feels edited to the music. The track's beats (``pipelines/beats.py`` finds them) are laid
on the clip's timeline, the track looping from the clip's first frame as the render mixes
it; each cut point moves to the nearest beat within :data:`WINDOW` seconds, on the output's
frame grid:

- the joins of a :class:`BaseCut` (the end of the part before a join moves, so the join
  moves on the output; only where every word of the part stays whole and no cut-away word
  comes back),
- the starts of zooms (a zoom moves whole),
- the edges of B-roll inserts.

A point with no beat near enough stays where it is.

    >>> snap_to(Beats((0.5, 1.0), 2.0).until(6.0), 2.9)
    3.0
    >>> snap_to((1.0,), 1.4) is None
    True
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, replace

from clipray.clips.effects.graph import FPS, BaseCut, BRoll, Step, Zooms

WINDOW = 0.25
"""How far (seconds) a cut point may move to meet a beat: a quarter second keeps a cut
near the moment it was planned for (half a beat at 120 BPM)."""


@dataclass(frozen=True)
class Beats:
    """A music track's beats: ``times`` (seconds of the track, ascending) and the track's
    length ``period``, after which it loops."""

    times: tuple[float, ...]
    period: float

    def until(self, end: float) -> list[float]:
        """The beats on a timeline where the track starts at 0 and loops, up to ``end``."""
        if not self.times or self.period <= 0:
            return []
        out: list[float] = []
        loop = 0
        while loop * self.period <= end:
            out += [t + loop * self.period for t in self.times if t + loop * self.period <= end]
            loop += 1
        return out


def snap_to(beats: Sequence[float], t: float, window: float = WINDOW) -> float | None:
    """The beat nearest ``t`` (``beats`` ascending) on the frame grid, None when none is
    within ``window``."""
    k = bisect.bisect_left(beats, t)
    near = [b for b in beats[max(k - 1, 0):k + 1] if abs(b - t) <= window + 1e-9]
    if not near:
        return None
    return round(min(near, key=lambda b: abs(b - t)) * FPS) / FPS


def snap_cut(cut: BaseCut, words: Sequence[tuple[float, float]], beats: Sequence[float],
             window: float = WINDOW) -> BaseCut:  # fmt: skip
    """``cut`` with each join on the nearest beat (output time) where one is in reach.

    The join after part ``i`` moves by moving the part's end, by whole frames. The move
    is taken only when the part keeps all its words whole (the end stays past the last
    word that starts in it), takes in no word it did not hold (a cut filler stays cut),
    and still ends before the next part starts. Joins are taken in order, since moving
    one shifts every later one. ``words``: ``(start, end)`` in span seconds."""
    keep = list(cut.keep)
    for i in range(len(keep) - 1):
        join = BaseCut(tuple(keep), cut.crossfade).offsets()[i + 1]
        beat = snap_to(beats, join, window)
        if beat is None:
            continue
        a, b = keep[i]
        new_b = b + round((beat - join) * FPS) / FPS
        held = [e for s, e in words if a <= s < b]
        if held and new_b < max(held) - 1e-9:
            continue  # a word of the part would lose its end
        if any(s < new_b - 1e-9 and e > b + 1e-9 for s, e in words if s >= b - 1e-9):
            continue  # a word after the part (cut away) would come back
        if any(s < new_b - 1e-9 < e for s, e in words):
            continue
        if new_b > keep[i + 1][0] + 1e-9 or new_b - a < 2 * cut.crossfade - 1e-9:
            continue
        keep[i] = (a, round(new_b * FPS) / FPS)
    return replace(cut, keep=tuple(keep))


def snap_zooms(zooms: Zooms, beats: Sequence[float], duration: float,
               window: float = WINDOW) -> Zooms:  # fmt: skip
    """``zooms`` each moved whole so that it starts on a beat, where one is in reach and
    the zoom stays inside the clip and after the one before."""
    out = []
    last = 0.0
    for z in zooms.zooms:
        beat = snap_to(beats, z.start, window)
        d = 0.0 if beat is None else beat - z.start
        if z.start + d < last - 1e-9 or z.end + d > duration + 1e-9 or z.start + d < 0:
            d = 0.0
        out.append(replace(z, start=z.start + d, end=z.end + d))
        last = z.end + d
    return replace(zooms, zooms=tuple(out))


def snap_broll(broll: BRoll, beats: Sequence[float], window: float = WINDOW) -> BRoll:
    """``broll`` with each insert's start and end on a beat where one is in reach and the
    inserts stay ordered and apart."""
    out = []
    last = 0.0
    for ins in broll.inserts:
        start = snap_to(beats, ins.start, window) or ins.start
        end = snap_to(beats, ins.end, window) or ins.end
        if start < last - 1e-9 or end <= start:
            start, end = (ins.start, ins.end) if ins.start >= last - 1e-9 else (last, ins.end)
        out.append(replace(ins, start=start, end=end))
        last = end
    return replace(broll, inserts=tuple(out))


def snap_steps(steps: Sequence[Step], beats: Sequence[float], duration: float) -> list[Step]:
    """The zooms and B-roll steps among ``steps`` snapped to ``beats`` (the base cut is
    snapped before the rest is planned on its timeline: :func:`snap_cut`)."""
    out: list[Step] = []
    for step in steps:
        if isinstance(step, Zooms):
            step = snap_zooms(step, beats, duration)
        elif isinstance(step, BRoll):
            step = snap_broll(step, beats)
        out.append(step)
    return out


__all__ = ["WINDOW", "Beats", "snap_broll", "snap_cut", "snap_steps", "snap_to", "snap_zooms"]
