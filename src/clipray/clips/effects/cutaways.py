"""Transitions between a base cut's parts, and B-roll cutaways, as FFmpeg video filters.

Both run in the clip's one encode (``clips/render.py``), on the reframed frames at the
output's 30 fps, before the captions and the hook are drawn, so those stay on top.

Transitions: the kept parts are trimmed on the frame grid and joined by ``xfade``, each
join overlapping the two parts by the transition's duration, which is the base cut's
``crossfade``: the sound's ``acrossfade`` at the join has the same length and starts on
the same frame, so picture and sound stay in step and the clip is the parts less one
duration per join (:attr:`~clipray.clips.effects.graph.BaseCut.duration`).

B-roll: each insert is an input of its own (``-ss src_start -t length`` on the object's
URL), scaled and centre-cropped to fill the output frame, at 30 fps, cut to the insert's
frames (its last frame held where the video is shorter), its timestamps moved to the
insert's start, and overlaid while it lasts (``eof_action=pass``): the overlay's own
``enable`` is not used, as a two-input filter evaluates it a frame late. The B-roll's own
sound is never mapped: the clip's sound goes on under it.

    >>> from clipray.clips.effects.graph import BaseCut, Transitions
    >>> f = joined_filter(BaseCut(((0.0, 1.0), (2.0, 3.0)), 0.2), Transitions("wipe", 0.2))
    >>> f.split(";")[-1]
    '[p0][p1]xfade=transition=wipeleft:duration=0.200000:offset=0.800000'
"""

from __future__ import annotations

from collections.abc import Mapping

from clipray.clips.effects.graph import FPS, BaseCut, BRoll, Transitions

XFADE: dict[str, str] = {"crossfade": "fade", "wipe": "wipeleft", "zoom": "zoomin"}
"""Each transition style's ``xfade`` transition."""
_EPS = 0.5 / FPS
"""Half a frame: a bound on the frame grid selects the frame at it, never its neighbour."""


def joined_filter(cut: BaseCut, joins: Transitions) -> str:
    """The filters (after ``fps=30``, one input, the last output unlabelled) that trim the
    kept parts and join each to the next with ``joins``' transition."""
    n = len(cut.keep)
    parts = ["split=" + str(n) + "".join(f"[j{i}]" for i in range(n))]
    for i, (a, b) in enumerate(cut.keep):
        parts.append(f"[j{i}]trim=start={max(a - _EPS, 0.0):.4f}:end={b - _EPS:.4f},"
                     f"setpts=PTS-STARTPTS[p{i}]")  # fmt: skip
    last, offsets = "[p0]", cut.offsets()
    for i in range(1, n):
        label = "" if i == n - 1 else f"[x{i}]"
        parts.append(f"{last}[p{i}]xfade=transition={XFADE[joins.style]}:"
                     f"duration={cut.crossfade:.6f}:offset={offsets[i]:.6f}{label}")  # fmt: skip
        last = label
    return ";".join(parts)


def broll_inputs(step: BRoll, media: Mapping[str, str]) -> list[list[str]]:
    """The FFmpeg input options of each insert (one input each, in order); ``media``: where
    FFmpeg reads each object key (a path or a presigned URL).

    Raises:
        KeyError: an insert's key is not in ``media``."""
    return [["-ss", f"{i.src_start:.3f}", "-t", f"{i.end - i.start + 1 / FPS:.3f}",
             "-i", media[i.key]] for i in step.inserts]  # fmt: skip


def broll_graph(base: str, step: BRoll, size: tuple[int, int], top: str, first: int) -> str:
    """A ``-filter_complex`` whose output ``[v]`` is the clip's frames (``base``: the
    filters from input 0's video to the reframed, cut, zoomed frames) with the inserts
    (inputs ``first``, ``first + 1`` ...) over them, then ``top`` (captions, pixel format)."""
    w, h = size
    parts = [f"[0:v]{base}[v0]"]
    for n, ins in enumerate(step.inserts):
        frames = max(round((ins.end - ins.start) * FPS), 1)
        parts.append(f"[{first + n}:v]scale={w}:{h}:force_original_aspect_ratio=increase,"
                     f"crop={w}:{h},setsar=1,fps={FPS},"
                     f"tpad=stop_mode=clone:stop_duration={ins.end - ins.start:.6f},"
                     f"trim=end_frame={frames},"
                     f"setpts=PTS-STARTPTS+{ins.start:.6f}/TB[b{n}]")  # fmt: skip
        parts.append(f"[v{n}][b{n}]overlay=eof_action=pass[v{n + 1}]")
    parts.append(f"[v{len(step.inserts)}]{top}[v]")
    return ";".join(parts)


__all__ = ["XFADE", "broll_graph", "broll_inputs", "joined_filter"]
