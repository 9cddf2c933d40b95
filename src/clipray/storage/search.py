"""One search over the index: the lists each mode asks for, fused, grouped into moments.

The query's vectors come from the caller (the Serve encoder deployment, or the CLI's own
encoders), so this module does no inference; the index applies the workspace filter inside
every query it runs.

    >>> q = Query("a speech about the moon", mode="transcript")
    >>> res = run_search(index, workspace_id, q, QueryVectors(sentence=vec))   # doctest: +SKIP
    >>> res.moments[0].start                                                 # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from clipray.schemas import CodedError
from clipray.storage.index import SearchIndex
from clipray.storage.orm import Job
from clipray.storage.ranking import Hit, Moment, fuse, group_moments, paginate

Mode = Literal["visual", "transcript", "hybrid"]
MODES: tuple[Mode, ...] = ("visual", "transcript", "hybrid")
MAX_DEPTH = 400
"""Most hits one list contributes: enough for 20 pages of 10 moments when hits group 2 to 1,
and a bound on the work a deep page asks of the index."""
MAX_SPAN_S = 30.0
"""Longest moment by default (``CLIPRAY_SEARCH_MOMENT_MAX_S``): the length of a short clip,
and a bound that stops a contiguous transcript from merging into one moment."""


class SearchError(CodedError):
    """A query the index cannot answer: 409, or 422 for a query that says nothing."""

    status = 409


@dataclass(frozen=True)
class Query:
    text: str
    mode: Mode = "hybrid"
    source_ids: tuple[str, ...] | None = None
    """Restrict to these sources (a job's or one source); None: the whole workspace."""
    limit: int = 10
    page: int = 1


@dataclass(frozen=True, eq=False)
class QueryVectors:
    sentence: np.ndarray | None = None
    """The query's sentence embedding (transcript); None skips the transcript's lists."""
    visual: np.ndarray | None = None
    """The query through CLIP (its text, or an example image); None: no CLIP weights."""


@dataclass(frozen=True)
class Results:
    moments: list[Moment]
    page: int
    pages: int
    total: int


def depth(q: Query) -> int:
    """Hits each list contributes: enough to fill the page asked for after grouping."""
    return min(MAX_DEPTH, max(50, q.limit * q.page * 4))


def _key(h: Hit) -> tuple[str, str, float, float]:
    return (h.mode, h.source_id, h.start, h.end)


def run_search(
    index: SearchIndex,
    workspace_id: str,
    q: Query,
    vectors: QueryVectors,
    gap_s: float = 2.0,
    max_span_s: float = MAX_SPAN_S,
) -> Results:
    """Answer ``q`` in ``workspace_id``.

    Raises:
        SearchError: ``VISUAL_SEARCH_UNAVAILABLE`` for visual mode without CLIP weights;
            ``QUERY_EMPTY`` for a blank query with no example image.
    """
    visual_on = vectors.visual is not None
    if q.mode == "visual" and not visual_on:
        raise SearchError("VISUAL_SEARCH_UNAVAILABLE",
                          "visual search is off: no CLIP weights are configured "
                          "(set CLIPRAY_CLIP_PRETRAINED)")  # fmt: skip
    if not q.text.strip() and not (q.mode == "visual" and visual_on):
        raise SearchError("QUERY_EMPTY", "the query is empty", status=422)
    n, sources = depth(q), q.source_ids
    lists: list[list[Hit]] = []
    if q.mode in ("visual", "hybrid") and vectors.visual is not None:
        lists.append(index.frames(workspace_id, vectors.visual, n, sources))
    if q.mode in ("transcript", "hybrid"):
        if vectors.sentence is not None:
            lists.append(index.segments_by_vector(workspace_id, vectors.sentence, n, sources))
        if q.text.strip():
            lists.append(index.segments_by_text(workspace_id, q.text, n, sources))
    if len(lists) == 1:  # one list: its own scores (cosine similarity) mean something
        hits = lists[0]
    else:  # several: their scores do not compare, ranks do
        by_key = {_key(h): h for ranked in reversed(lists) for h in ranked}
        fused = fuse([[_key(h) for h in ranked] for ranked in lists])
        hits = [replace(by_key[k], score=score) for k, score in fused]
    moments = group_moments(hits, gap_s=gap_s, max_span_s=max_span_s)
    page, pages = paginate(moments, q.page, q.limit)
    return Results(page, q.page, pages, len(moments))


def moment_mode(m: Moment) -> str:
    """``visual`` or ``transcript`` for a moment found one way, ``hybrid`` for both."""
    return m.modes[0] if len(m.modes) == 1 else "hybrid"


def restrict(source_id: str | None, job_source_id: str | None) -> tuple[str, ...] | None:
    """The sources a query may see, from its ``source_id`` and its job's source."""
    wanted = {s for s in (source_id, job_source_id) if s}
    if len(wanted) > 1:
        raise SearchError("SEARCH_SCOPE_CONFLICT", "the job is not about that source")
    return tuple(wanted) or None


def thumbnail_at(m: Moment) -> float:
    """Where the moment's thumbnail is taken: its best frame hit, else its start."""
    visual = [h for h in m.hits if h.mode == "visual"]
    return max(visual, key=lambda h: h.score).start if visual else m.start


def latest_jobs(session: Session, workspace_id: str, source_ids: set[str]) -> dict[str, str]:
    """The newest job about each source."""
    if not source_ids:
        return {}
    rows = session.execute(
        select(Job.source_id, Job.id)
        .where(Job.workspace_id == workspace_id, Job.source_id.in_(source_ids))
        .order_by(Job.created_at, Job.id)
    ).all()
    return {sid: jid for sid, jid in rows if sid}


def result_dict(m: Moment, job_id: str | None, thumbnail_url: str | None = None
                ) -> dict[str, object]:  # fmt: skip
    """One result in the API's and ``clipray search --json``'s shape; without a (signed)
    ``thumbnail_url``, the authenticated thumbnail route of the moment's frame."""
    thumb = thumbnail_url or f"/api/sources/{m.source_id}/thumbnail?t={thumbnail_at(m):.3f}"
    return {"source_id": m.source_id, "job_id": job_id, "start": round(m.start, 3),
            "end": round(m.end, 3), "score": m.score, "mode": moment_mode(m), "text": m.text,
            "thumbnail_url": thumb}  # fmt: skip
