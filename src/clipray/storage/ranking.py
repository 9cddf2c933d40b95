"""Search ranking, pure: fuse ranked lists, group neighbouring hits into moments, paginate.

The index (LanceDB) answers each mode with its own ranked list: frames by image embedding,
transcript segments by text embedding and by BM25. Their scores are not comparable, so
lists are fused by reciprocal rank (each item scores ``sum(1 / (k + rank))`` over the lists
it appears in; Cormack, Clarke and Buettcher, SIGIR 2009), then hits close in time in one
source are merged into one moment: a search result is a span to cut, not a frame.

    >>> fuse([["a", "b"], ["b", "c"]])
    [('b', 0.0325...), ('a', 0.0163...), ('c', 0.0161...)]
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
RRF_K = 60
"""The constant of reciprocal rank fusion: large enough that a top rank in one list does not
drown agreement across lists (the paper's value)."""
JOIN_RATIO = 0.6
"""A hit joins a moment only if it scores at least this share of the moment's best hit.
Every transcript segment is somebody's nearest neighbour, so without it a one-word query
grew a moment over every sentence around the one that says the word. Fused, a hit found by
one list scores at most ``1/61``, against at least ``1/61 + 1/(60 + n)`` for one that both
lists found: under 0.6 of it for any source of fewer than 30 segments."""


def fuse(rankings: Sequence[Sequence[K]], k: int = RRF_K) -> list[tuple[K, float]]:
    """Reciprocal rank fusion of ranked lists (best first), best first; ties keep the order
    in which items were first seen. An item repeated within one list counts once, at its
    best rank."""
    scores: dict[K, float] = {}
    for ranking in rankings:
        seen: set[K] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    order = {item: i for i, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


@dataclass(frozen=True)
class Hit:
    """One indexed row that matched: a frame (``start == end``) or a transcript segment."""

    source_id: str
    start: float
    end: float
    score: float
    mode: str
    """``visual`` or ``transcript``."""
    job_id: str | None = None
    text: str = ""
    thumbnail_key: str | None = None


@dataclass(frozen=True)
class Moment:
    """Neighbouring hits of one source merged into one span."""

    source_id: str
    start: float
    end: float
    score: float
    """The best hit's score."""
    modes: tuple[str, ...]
    job_id: str | None = None
    text: str = ""
    thumbnail_key: str | None = None
    """The best visual hit's thumbnail, if any."""
    hits: tuple[Hit, ...] = field(default=(), repr=False)


def group_moments(
    hits: Sequence[Hit],
    gap_s: float = 2.0,
    max_span_s: float = 30.0,
    pad_s: float = 0.0,
    join_ratio: float = JOIN_RATIO,
) -> list[Moment]:
    """Group hits (best first) into moments: each hit, in rank order, joins the best moment
    of its source within ``gap_s`` of it, as long as it scores at least ``join_ratio`` of
    that moment's best and the moment stays within ``max_span_s`` and clear of the source's
    other moments; else it starts a moment of its own, or, where it overlaps one it cannot
    join, it is already shown and is dropped. Best first.

    Rank order, not time order, is what keeps moments short: in a transcript every segment
    is within a second of the next, so merging by time alone would join a whole talk into
    one moment around a single good hit. Moments of one source never overlap (before
    ``pad_s`` widens them, never below 0), and none is longer than ``max_span_s``: a single
    hit longer than that (a long transcript segment) is cut to the bound around its middle.
    """
    if max_span_s <= 0:
        raise ValueError("max_span_s must be positive")
    runs: list[list[Hit]] = []
    spans: list[list[float]] = []  # [lo, hi] of each run
    for hit in sorted(hits, key=lambda x: -x.score):  # stable: ties keep the given order
        mine = [i for i, r in enumerate(runs) if r[0].source_id == hit.source_id]
        near = [i for i in mine
                if hit.start - spans[i][1] <= gap_s and spans[i][0] - hit.end <= gap_s]  # fmt: skip
        if near:
            i = near[0]  # runs are made in score order: the first is the best
            # The run's own extent, not its span: a first hit cut to the bound takes no joins.
            lo = min(hit.start, *(h.start for h in runs[i]))
            hi = max(hit.end, *(h.end for h in runs[i]))
            clear = all(j == i or hi < spans[j][0] or spans[j][1] < lo for j in mine)
            strong = hit.score >= join_ratio * runs[i][0].score
            if hi - lo <= max_span_s and clear and strong:
                runs[i].append(hit)
                spans[i] = [lo, hi]
                continue
        if any(hit.start <= spans[j][1] and spans[j][0] <= hit.end for j in mine):
            continue  # inside a better moment already
        runs.append([hit])
        spans.append(_bounded(hit.start, hit.end, max_span_s))
    moments = [_moment(run[0].source_id, run, pad_s, max_span_s) for run in runs]
    return sorted(moments, key=lambda m: -m.score)  # stable: ties stay in rank order


def _bounded(lo: float, hi: float, max_span_s: float) -> list[float]:
    """``[lo, hi]``, cut to ``max_span_s`` around its middle when longer."""
    if hi - lo <= max_span_s:
        return [lo, hi]
    mid = (lo + hi) / 2
    return [mid - max_span_s / 2, mid + max_span_s / 2]


def _moment(source_id: str, run: list[Hit], pad_s: float, max_span_s: float) -> Moment:
    best = max(run, key=lambda h: h.score)
    visual = [h for h in run if h.thumbnail_key]
    thumb = max(visual, key=lambda h: h.score).thumbnail_key if visual else None
    spoken = sorted(run, key=lambda h: (h.start, h.end))  # read as it was said, not by rank
    texts = list(dict.fromkeys(h.text for h in spoken if h.text))
    # Only a run's first hit can be longer than the bound (joins stay within it), and it was
    # cut to the bound around its middle when the run began: the same cut here.
    lo, hi = _bounded(min(h.start for h in run), max(h.end for h in run), max_span_s)
    return Moment(
        source_id=source_id,
        start=max(0.0, lo - pad_s),
        end=hi + pad_s,
        score=best.score,
        modes=tuple(sorted({h.mode for h in run})),
        job_id=best.job_id,
        text=" ".join(texts),
        thumbnail_key=thumb,
        hits=tuple(run),
    )


def paginate(items: Sequence[K], page: int, limit: int) -> tuple[list[K], int]:
    """One page (from 1) of ``items`` and the number of pages (at least 1)."""
    if page < 1 or limit < 1:
        raise ValueError("page and limit start at 1")
    pages = max(1, -(-len(items) // limit))
    return list(items[(page - 1) * limit : page * limit]), pages
