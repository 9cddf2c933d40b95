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


def group_moments(hits: Sequence[Hit], gap_s: float = 2.0, pad_s: float = 0.0) -> list[Moment]:
    """Merge hits of the same source whose spans overlap or lie within ``gap_s`` of each
    other; each moment spans its hits (widened by ``pad_s``, never below 0). Best first.

    Within a source the moments are disjoint, and every hit lies in exactly one of them.
    """
    by_source: dict[str, list[Hit]] = {}
    for h in hits:
        by_source.setdefault(h.source_id, []).append(h)
    moments: list[Moment] = []
    for source_id, group in by_source.items():
        group.sort(key=lambda h: (h.start, h.end))
        run: list[Hit] = [group[0]]
        end = group[0].end
        for h in group[1:]:
            if h.start - end <= gap_s:
                run.append(h)
                end = max(end, h.end)
            else:
                moments.append(_moment(source_id, run, pad_s))
                run, end = [h], h.end
        moments.append(_moment(source_id, run, pad_s))
    # Padding could make neighbours touch again; they were more than gap_s apart, so only a
    # pad above gap_s / 2 overlaps them, and that is the caller's choice to make.
    return sorted(moments, key=lambda m: (-m.score, m.source_id, m.start))


def _moment(source_id: str, run: list[Hit], pad_s: float) -> Moment:
    best = max(run, key=lambda h: h.score)
    visual = [h for h in run if h.thumbnail_key]
    thumb = max(visual, key=lambda h: h.score).thumbnail_key if visual else None
    texts = list(dict.fromkeys(h.text for h in run if h.text))
    return Moment(
        source_id=source_id,
        start=max(0.0, min(h.start for h in run) - pad_s),
        end=max(h.end for h in run) + pad_s,
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
