"""Cut-point algebra: a source's virtual clips as cut points that cover it exactly.

A source of ``frame_count`` frames is covered by consecutive clips ``[start, end)`` with no
gap and no overlap (mutually exclusive, collectively exhaustive). Editing never re-encodes
video: adding a cut splits one clip in two, removing a cut merges two neighbours, moving a
cut shifts the boundary between two neighbours. Each operation returns the new cover, the
clips it created and the clips it archived (replaced); undo applies the inverse and brings
the archived clips back. Pure: no database, no I/O; ``storage`` persists what this decides.

    >>> cover = initial_cover(100, [30, 60], ids=iter("abcdef").__next__)
    >>> [(c.start, c.end) for c in cover]
    [(0, 30), (30, 60), (60, 100)]
    >>> edit = add_cut(cover, 45, ids=iter("xyz").__next__)
    >>> [(c.start, c.end) for c in edit.cover]
    [(0, 30), (30, 45), (45, 60), (60, 100)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from clipray.domain.errors import CodedError

IdFactory = Callable[[], str]
Op = Literal["add", "remove", "move"]


@dataclass(frozen=True)
class VClip:
    """One virtual clip: frames ``[start, end)`` of the source."""

    id: str
    start: int
    end: int

    @property
    def frames(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Edit:
    """The outcome of one operation."""

    op: Op
    cover: tuple[VClip, ...]
    """The whole cover after the operation, in frame order."""
    created: tuple[VClip, ...]
    archived: tuple[VClip, ...]
    frames_before: tuple[int, ...]
    """The cut points before the operation."""
    frames_after: tuple[int, ...]


CONFLICTS = frozenset({"UNDO_STALE", "NOTHING_TO_UNDO", "CLIP_REPLACED"})
"""Refusals that depend on the cover's state, not on the request: 409 rather than 422."""


class CutError(CodedError):
    """An operation the cover does not allow; nothing changed. ``reason`` is for people,
    ``code`` for machines; 409 when the cover's state refuses it, 422 when the request does."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(code, reason, status=409 if code in CONFLICTS else 422)
        self.reason = reason


def cuts_of(cover: Sequence[VClip]) -> tuple[int, ...]:
    """The interior cut points of a cover (every clip start but the first)."""
    return tuple(c.start for c in cover[1:])


def validate(cover: Sequence[VClip], frame_count: int) -> str | None:
    """None when ``cover`` covers ``[0, frame_count)`` exactly, else the first violation."""
    if frame_count <= 0:
        return f"a source has at least one frame, not {frame_count}"
    if not cover:
        return "no clips: nothing covers the source"
    if cover[0].start != 0:
        return f"the first clip starts at frame {cover[0].start}, not 0"
    for prev, cur in pairwise(cover):
        if prev.end <= prev.start:
            return f"clip {prev.id} is empty ([{prev.start}, {prev.end}))"
        if cur.start > prev.end:
            return f"gap: frames [{prev.end}, {cur.start}) belong to no clip"
        if cur.start < prev.end:
            return f"overlap: frames [{cur.start}, {prev.end}) are in clips {prev.id} and {cur.id}"
    last = cover[-1]
    if last.end <= last.start:
        return f"clip {last.id} is empty ([{last.start}, {last.end}))"
    if last.end != frame_count:
        return f"the last clip ends at frame {last.end}, not {frame_count}"
    return None


def initial_cover(frame_count: int, cuts: Iterable[int], ids: IdFactory) -> tuple[VClip, ...]:
    """The cover of a freshly analysed source, from its scene cuts (out-of-range and
    duplicate cut points are dropped: a scene cut at frame 0 is not a boundary)."""
    if frame_count <= 0:
        raise CutError("EMPTY_SOURCE", f"a source has at least one frame, not {frame_count}")
    points = sorted({c for c in cuts if 0 < c < frame_count})
    bounds = [0, *points, frame_count]
    return tuple(VClip(ids(), a, b) for a, b in pairwise(bounds))


def _check(cover: Sequence[VClip]) -> int:
    frame_count = cover[-1].end if cover else 0
    problem = validate(cover, frame_count)
    if problem:
        raise CutError("INVALID_COVER", f"the cover is broken already: {problem}")
    return frame_count


def _edit(op: Op, cover: Sequence[VClip], new: list[VClip], created: list[VClip],
          archived: list[VClip]) -> Edit:  # fmt: skip
    return Edit(op, tuple(new), tuple(created), tuple(archived), cuts_of(cover), cuts_of(new))


def add_cut(cover: Sequence[VClip], frame: int, ids: IdFactory) -> Edit:
    """Split the clip holding ``frame`` into ``[start, frame)`` and ``[frame, end)``."""
    n = _check(cover)
    if not 0 < frame < n:
        raise CutError("CUT_OUT_OF_RANGE", f"frame {frame} is not inside the source (1..{n - 1})")
    for i, c in enumerate(cover):
        if c.start == frame:
            raise CutError("CUT_EXISTS", f"there is a cut at frame {frame} already")
        if c.start < frame < c.end:
            left, right = VClip(ids(), c.start, frame), VClip(ids(), frame, c.end)
            new = [*cover[:i], left, right, *cover[i + 1 :]]
            return _edit("add", cover, new, [left, right], [c])
    raise AssertionError("a valid cover holds every frame")  # pragma: no cover


def _index_of_cut(cover: Sequence[VClip], frame: int) -> int:
    """Index of the clip that starts at cut ``frame`` (never the first clip)."""
    for i, c in enumerate(cover[1:], start=1):
        if c.start == frame:
            return i
    raise CutError("CUT_NOT_FOUND", f"there is no cut at frame {frame}")


def remove_cut(cover: Sequence[VClip], frame: int, ids: IdFactory) -> Edit:
    """Merge the two clips that meet at cut ``frame``."""
    _check(cover)
    i = _index_of_cut(cover, frame)
    left, right = cover[i - 1], cover[i]
    merged = VClip(ids(), left.start, right.end)
    new = [*cover[: i - 1], merged, *cover[i + 1 :]]
    return _edit("remove", cover, new, [merged], [left, right])


def move_cut(cover: Sequence[VClip], frame: int, to: int, ids: IdFactory) -> Edit:
    """Move cut ``frame`` to ``to``: it may not reach or cross a neighbouring cut (or the
    source's ends), which would leave an empty clip or reorder them."""
    _check(cover)
    i = _index_of_cut(cover, frame)
    left, right = cover[i - 1], cover[i]
    if to == frame:
        raise CutError("CUT_NOT_MOVED", f"the cut is at frame {frame} already")
    if not left.start < to < right.end:
        raise CutError(
            "CUT_WOULD_CROSS",
            f"a cut at {frame} can move within ({left.start}, {right.end}), not to {to}: "
            "it would empty a clip or cross another cut",
        )
    new_left, new_right = VClip(ids(), left.start, to), VClip(ids(), to, right.end)
    new = [*cover[: i - 1], new_left, new_right, *cover[i + 1 :]]
    return _edit("move", cover, new, [new_left, new_right], [left, right])


def undo(cover: Sequence[VClip], edit: Edit) -> Edit:
    """Revert ``edit``, which must be the last operation applied to ``cover``: its created
    clips are archived and the clips it archived come back as they were (same ids)."""
    _check(cover)
    created = set(edit.created)
    present = [c for c in cover if c in created]
    first = cover.index(present[0]) if present else -1
    if len(present) != len(created) or tuple(cover[first : first + len(present)]) != tuple(present):
        raise CutError("UNDO_STALE", "the cover changed since that operation; undo the later "
                       "ones first")  # fmt: skip
    new = [*cover[:first], *edit.archived, *cover[first + len(present) :]]
    kind: Op = {"add": "remove", "remove": "add", "move": "move"}[edit.op]  # type: ignore[assignment]
    return _edit(kind, cover, new, list(edit.archived), present)
