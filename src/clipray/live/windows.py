"""From a scored cluster to a clip window: pre- and post-roll, the monitor's durations,
sentence edges, and the rules that keep a stream from posting the same moment twice or
flooding its channel.

A window starts ``pre_roll_s`` before the cluster and ends ``post_roll_s`` after it,
trimmed to ``max_duration`` around the cluster's strongest event. Each edge moves onto the
nearest sentence boundary within ``snap_s`` (a start where a sentence starts, an end where
one ends), a window shorter than ``min_duration`` grows by whole sentences, and an edge
left unsnapped moves out of the word it would cut. The
window is a pure function of the cluster and the transcript, and its :attr:`ClipWindow.key`
is derived from the rounded edges, so a recreated worker that sees the same moment again
computes the same key; windows overlapping an emitted one are the same moment too.

    >>> plan = WindowPlanner(WindowConfig(), stream_key="mon-1")
    >>> w = window_for(cluster, sentences, words, WindowConfig())  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from clipray.live.events import Cluster, Event, Score
from clipray.live.settings import WindowConfig
from clipray.live.text import Sentence
from clipray.schemas import Word

log = logging.getLogger(__name__)

KEY_RESOLUTION_S = 0.1
"""Edges are rounded to this before they make a key: float noise never makes a new clip."""


@dataclass(frozen=True)
class ClipWindow:
    """A span of the stream to cut as a clip, with what made it."""

    key: str
    """Stable id of the window (monitor and rounded edges): what the worker persists to
    never emit it twice."""
    start: float
    end: float
    score: float
    events: tuple[Event, ...]
    score_detail: Score | None = field(default=None, compare=False)
    snapped_start: bool = False
    """Whether the start lies on a sentence start (else on the raw pre-roll or a word edge)."""
    snapped_end: bool = False

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "start": round(self.start, 3), "end": round(self.end, 3),
                "score": round(self.score, 4), "events": [e.to_json() for e in self.events],
                "snapped_start": self.snapped_start, "snapped_end": self.snapped_end,
                **({"score_detail": self.score_detail.to_json()} if self.score_detail else {})}


def window_key(stream_key: str, start: float, end: float) -> str:
    """The window's key: ``{stream_key}:{hash}`` of the edges rounded to 0.1 s."""
    edges = f"{round(start / KEY_RESOLUTION_S)}-{round(end / KEY_RESOLUTION_S)}"
    digest = hashlib.sha256(f"{stream_key}\x00{edges}".encode()).hexdigest()[:16]
    return f"{stream_key}:{digest}"


def _trim(start: float, end: float, core: tuple[float, float], cfg: WindowConfig
          ) -> tuple[float, float]:  # fmt: skip
    """``[start, end]`` cut to ``max_duration``, keeping the pre-roll before the core and
    dropping what the cluster trails behind it."""
    if end - start <= cfg.max_duration:
        return start, end
    start = min(core[0], max(start, core[1] - cfg.max_duration))
    start = max(start, min(core[0], core[1] - cfg.max_duration) - cfg.pre_roll_s)
    return start, start + cfg.max_duration


def _word_at(edge: float, words: Sequence[Word]) -> Word | None:
    return next((w for w in words if w.start < edge < w.end), None)


def window_for(
    cluster: Cluster,
    sentences: Sequence[Sentence],
    words: Sequence[Word],
    cfg: WindowConfig,
    *,
    media: tuple[float, float] = (0.0, float("inf")),
) -> tuple[float, float, bool, bool]:
    """The clip window of ``cluster``: ``(start, end, snapped_start, snapped_end)``.

    The raw window (pre-roll, cluster, post-roll, at most ``max_duration`` around the
    strongest event) has its start moved to the nearest sentence start between ``snap_s``
    before it and the cluster's first event, and its end to the nearest sentence end
    between the cluster's last event and ``snap_s`` after it. A window still shorter than
    ``min_duration`` grows by whole sentences (the one before, unless the one after costs
    less than half as much: the build-up makes a clip) within ``max_duration``, then by
    plain seconds; two moments a sentence apart may so grow into one window, which the
    analyzer makes one clip. Edges left unsnapped move out of any word they would cut.

    Args:
        sentences: finished sentences around the cluster, for the edges to snap to.
        words: transcribed words around it, so that an unsnapped edge cuts no word.
        media: the stream time the buffer holds; the window never leaves it.
    """
    lo, hi = media
    peak = cluster.peak
    core = (peak.t_start, peak.t_end)
    start = max(lo, cluster.t_start - cfg.pre_roll_s)
    end = min(hi, cluster.t_end + cfg.post_roll_s)
    start, end = _trim(start, end, core, cfg)
    starts = sorted({s.start for s in sentences if lo <= s.start <= hi})
    ends = sorted({s.end for s in sentences if lo <= s.end <= hi})

    def nearest(edge: float, options: list[float]) -> float | None:
        return min(options, key=lambda o: (abs(o - edge), o)) if options else None

    # A start may move back by snap_s, or forward as far as the first event (the pre-roll
    # shrinks, no event is lost); an end likewise, mirrored.
    first = min(core[0], max(cluster.t_start, start))
    new_start = nearest(start, [s for s in starts if start - cfg.snap_s <= s <= first
                                and core[1] - s <= cfg.max_duration])  # fmt: skip
    snapped_start = new_start is not None
    if new_start is not None:
        start, end = new_start, min(end, new_start + cfg.max_duration)
    last = max(core[1], min(cluster.t_end, end))
    new_end = nearest(end, [e for e in ends if min(last, end) <= e <= end + cfg.snap_s
                            and e > start and e - start <= cfg.max_duration])  # fmt: skip
    snapped_end = new_end is not None
    end = new_end if new_end is not None else end

    while end - start < cfg.min_duration - 1e-9:
        before = next((s for s in reversed(starts) if s < start - 1e-9), None)
        after = next((e for e in ends if e > end + 1e-9), None)
        before = before if before is not None and end - before <= cfg.max_duration else None
        after = after if after is not None and after - start <= cfg.max_duration else None
        if before is not None and (after is None or start - before <= 2 * (after - end)):
            start, snapped_start = before, True
        elif after is not None:
            end, snapped_end = after, True
        else:  # no sentence fits: plain seconds, two thirds of them before
            missing = cfg.min_duration - (end - start)
            room_before = start - lo
            take = min(room_before, missing * 2 / 3 if end + missing / 3 <= hi else missing)
            if take > 0:
                start, snapped_start = start - take, False
            if (rest := cfg.min_duration - (end - start)) > 0:
                end, snapped_end = min(hi, end + rest), False
            break

    def ok(s: float, e: float) -> bool:
        return (lo <= s and e <= hi and s <= core[0] + 1e-9
                and cfg.min_duration - 1e-9 <= e - s <= cfg.max_duration + 1e-9)  # fmt: skip

    if not snapped_start and (w := _word_at(start, words)) is not None:
        start = next((c for c in (w.start, w.end) if ok(c, end)), start)
    if not snapped_end and (w := _word_at(end, words)) is not None:
        end = next((c for c in (w.end, w.start) if ok(start, c)), end)
    return start, end, snapped_start, snapped_end


Reranker = Callable[[Sequence[ClipWindow]], Sequence[Any]]
"""The optional re-ranking hook (an LLM behind it, or anything): given the competing
windows best-first, it answers their keys (or the windows themselves) in its preferred
order. It can only reorder: what it answers is read as keys, never as times."""


def rerank(windows: Sequence[ClipWindow], hook: Reranker | None) -> list[ClipWindow]:
    """``windows`` in the hook's order. Anything but a permutation of their keys (unknown
    or missing keys, duplicates, an exception) keeps the order as it was: re-ranking is an
    improvement, never a dependency. The windows returned are the ones passed in, so the
    hook cannot move a timestamp or change a score."""
    if hook is None or len(windows) < 2:
        return list(windows)
    by_key = {w.key: w for w in windows}
    try:
        answer = list(hook(tuple(windows)))
        keys = [a if isinstance(a, str) else a.key for a in answer]
    except Exception as exc:  # the hook is someone else's code (and a network call)
        log.warning("re-ranking failed, keeping the order: %s", exc)
        return list(windows)
    if sorted(keys) != sorted(by_key):
        log.warning("re-ranking answered %d keys that are not a permutation of the %d "
                    "windows, keeping the order", len(keys), len(windows))  # fmt: skip
        return list(windows)
    return [by_key[k] for k in keys]


@dataclass(frozen=True)
class Skipped:
    """A window that was not emitted, and why (``duplicate``, ``overlaps``, ``hourly_cap``)."""

    window: ClipWindow
    reason: str


class WindowPlanner:
    """The memory of what a stream has emitted: a window is emitted once (by key, or by
    overlap with an emitted one), and at most ``max_clips_per_hour`` in any hour.

    Times are stream seconds; ``emitted`` restores a recreated worker's memory from what
    the previous one persisted.
    """

    def __init__(
        self,
        cfg: WindowConfig,
        stream_key: str,
        emitted: Iterable[ClipWindow | tuple[str, float, float]] = (),
    ) -> None:
        self.cfg = cfg
        self.stream_key = stream_key
        self._emitted: dict[str, tuple[float, float]] = {}
        for item in emitted:
            key, start, end = ((item.key, item.start, item.end)
                               if isinstance(item, ClipWindow) else item)  # fmt: skip
            self._emitted[key] = (start, end)
        self.skipped: list[Skipped] = []

    @property
    def emitted(self) -> dict[str, tuple[float, float]]:
        """Emitted windows' keys and ``(start, end)``: what the worker persists."""
        return dict(self._emitted)

    def key(self, start: float, end: float) -> str:
        return window_key(self.stream_key, start, end)

    def _repeat(self, w: ClipWindow) -> str | None:
        if w.key in self._emitted:
            return "duplicate"
        for s, e in self._emitted.values():
            shared = min(e, w.end) - max(s, w.start)
            shorter = min(e - s, w.duration)
            if shorter > 0 and shared / shorter > self.cfg.max_overlap:
                return "overlaps"
        return None

    def admit(self, ranked: Sequence[ClipWindow]) -> list[ClipWindow]:
        """Of ``ranked`` (best first), the windows to emit now, in stream order; records
        them as emitted. The hour is the hour of stream time before each window's end."""
        out: list[ClipWindow] = []
        for w in ranked:
            reason = self._repeat(w)
            if reason is None:
                recent = sum(1 for _, e in self._emitted.values() if w.end - 3600.0 < e <= w.end)
                later = sum(1 for _, e in self._emitted.values() if w.end < e < w.end + 3600.0)
                if max(recent, later) >= self.cfg.max_clips_per_hour:
                    reason = "hourly_cap"
            if reason is not None:
                self.skipped.append(Skipped(w, reason))
                continue
            self._emitted[w.key] = (w.start, w.end)
            out.append(w)
        return sorted(out, key=lambda w: w.start)
