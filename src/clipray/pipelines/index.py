"""Index analysed sources for search, through Ray Data.

Transcript segments get sentence embeddings on a pool of actors (the model loads once per
actor); frames carry the image embeddings the analysis already made. The driver writes each
source's rows to the search index, replacing what the source had (so indexing again is
harmless):

    segments (1 per row) ─ text-embed pool ─┐
    frames (from the analysis' embeddings) ─┴─ SearchIndex.replace_source, per source

    >>> todo = [SourceToIndex.of(ws, source_id, doc, vectors, times)]   # doctest: +SKIP
    >>> index_sources(settings, todo)[source_id]  # None, or why not   # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from clipray.cluster.resources import actor_pool_args
from clipray.cluster.services import open_index
from clipray.config import Settings
from clipray.models.text_embed import TextEmbedConfig
from clipray.storage.index import FrameRow, SearchIndex, SegmentRow
from clipray.storage.keys import thumbnail_key

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class SourceToIndex:
    """What one analysed source puts in the index."""

    workspace_id: str
    source_id: str
    segments: tuple[tuple[float, float, str], ...]
    """(start, end, text) of each transcript segment with words."""
    frame_vectors: np.ndarray | None
    """(N, dim) unit image embeddings of the sampled frames; None: no image embeddings."""
    frame_times: np.ndarray

    @classmethod
    def of(
        cls,
        workspace_id: str,
        source_id: str,
        document: dict[str, Any],
        vectors: np.ndarray | None,
        times: np.ndarray | None,
    ) -> SourceToIndex:
        """From an analysis document (the ``clipray analyze --json`` shape) and its frame
        embeddings."""
        tr = document.get("transcript") or {}
        segments = tuple(
            (float(s["start"]), float(s["end"]), s["text"].strip())
            for s in tr.get("segments", [])
            if s["text"].strip()
        )
        at = np.zeros(0) if times is None else np.asarray(times, dtype=np.float64)
        return cls(workspace_id, source_id, segments, vectors, at)


class TextEmbedStage:
    """Actor: loads the sentence encoder once; adds a ``vector`` column to segment rows."""

    def __init__(self, cfg: TextEmbedConfig) -> None:
        from clipray.models.text_embed import TextEncoder

        self.model = TextEncoder.load(cfg)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.model.embed([str(t) for t in batch["text"]])
        return {**batch, "vector": vectors}


def build_segment_embeddings(rows: list[dict[str, Any]], cfg: TextEmbedConfig,
                             settings: Settings) -> Any:  # fmt: skip
    """Segments as one lazy Ray Data dataset with their sentence embeddings."""
    import ray

    # segments (1 per row) -> segments + sentence embeddings (actor pool)
    return ray.data.from_items(rows).map_batches(
        TextEmbedStage, fn_constructor_kwargs={"cfg": cfg}, batch_format="numpy",
        **actor_pool_args(settings.stage("text_embed")),
    )  # fmt: skip


def index_sources(settings: Settings, sources: list[SourceToIndex],
                  index: SearchIndex | None = None) -> dict[str, str | None]:  # fmt: skip
    """Index ``sources`` (replacing their earlier rows); per source id, None or the reason it
    could not be indexed. A failure leaves the source's earlier rows as they were."""
    outcome: dict[str, str | None] = {}
    if not sources:
        return outcome
    index = index or open_index(settings)
    rows = [
        {"key": f"{s.source_id}:{i}", "source_id": s.source_id, "start": a, "end": b, "text": t}
        for s in sources
        for i, (a, b, t) in enumerate(s.segments)
    ]
    vectors: dict[str, list[tuple[int, np.ndarray]]] = {}
    if rows:
        try:
            cfg = TextEmbedConfig(model=settings.text_embed_model)
            ds = build_segment_embeddings(rows, cfg, settings)
            for batch in ds.iter_batches(batch_format="numpy", batch_size=None):
                for key, vec in zip(batch["key"], batch["vector"], strict=True):
                    sid, i = str(key).split(":")
                    vectors.setdefault(sid, []).append((int(i), np.asarray(vec, np.float32)))
        except Exception as exc:  # no text model: nothing of these sources is indexed
            reason = f"text embeddings: {type(exc).__name__}: {exc}"
            log.warning("search index: %s", reason)
            return {s.source_id: reason for s in sources}
    for s in sources:
        by_i = dict(vectors.get(s.source_id, []))
        segments = [SegmentRow(s.workspace_id, s.source_id, a, b, text, by_i[i])
                    for i, (a, b, text) in enumerate(s.segments)]  # fmt: skip
        frames = None
        if s.frame_vectors is not None:
            frames = [FrameRow(s.workspace_id, s.source_id, float(t), v,
                               thumbnail_key(s.workspace_id, s.source_id, float(t)))
                      for t, v in zip(s.frame_times, s.frame_vectors, strict=True)]  # fmt: skip
        try:
            index.replace_source(s.workspace_id, s.source_id, frames, segments)
            outcome[s.source_id] = None
        except Exception as exc:
            outcome[s.source_id] = f"index: {type(exc).__name__}: {exc}"
            log.warning("search index of %s: %s", s.source_id, outcome[s.source_id])
    return outcome
