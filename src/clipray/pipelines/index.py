"""Index analysed sources for search, through Ray Data.

Transcript segments get sentence embeddings on a pool of actors (the model loads once per
actor); frames carry the image embeddings the analysis already made. The driver writes each
source's rows to the search index, replacing what the source had (so indexing again is
harmless):

    segments (1 per row) ─ text-embed pool ─┐
    frames (from the analysis' embeddings) ─┴─ SearchIndex.replace_source, per source

    >>> todo = [SourceToIndex.of(ws, source_id, analysis, vectors, times)]  # doctest: +SKIP
    >>> index_sources(settings, todo)[source_id]  # None, or why not   # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from clipray.cluster.resources import actor_pool_args
from clipray.cluster.services import open_index
from clipray.config import Settings
from clipray.domain.analysis import Analysis
from clipray.models.text_embed import TextEmbedConfig
from clipray.observability import timed
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
        analysis: Analysis,
        vectors: np.ndarray | None,
        times: np.ndarray | None,
    ) -> SourceToIndex:
        """From an analysis and its frame embeddings."""
        segments = tuple(
            (s.start, s.end, s.text.strip()) for s in analysis.transcript.segments
            if s.text.strip()
        )  # fmt: skip
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
                             settings: Settings, *, warm: bool = False) -> Any:  # fmt: skip
    """Segments as one lazy Ray Data dataset with their sentence embeddings; ``warm``: from
    the warm sentence encoder service (the service path), not a pool of this dataset's."""
    import ray

    res = settings.stage("text_embed")
    if warm:
        from clipray.pipelines.warm import TEXT_EMBED, ServiceCall, warm_text_embed

        # segments -> segments + sentence embeddings (a thin task: the service embeds)
        return ray.data.from_items(rows).map_batches(
            warm_text_embed, batch_format="numpy", num_cpus=0.1, batch_size=res.batch_size,
            fn_kwargs={"call": ServiceCall.of(settings, TEXT_EMBED, "embed")},
        )  # fmt: skip
    # segments (1 per row) -> segments + sentence embeddings (actor pool)
    return ray.data.from_items(rows).map_batches(
        TextEmbedStage, fn_constructor_kwargs={"cfg": cfg}, batch_format="numpy",
        **actor_pool_args(res),
    )  # fmt: skip


def frame_rows(s: SourceToIndex) -> list[FrameRow] | None:
    """The source's frame rows; None when the analysis made no image embeddings."""
    if s.frame_vectors is None:
        return None
    return [FrameRow(s.workspace_id, s.source_id, float(t), v,
                     thumbnail_key(s.workspace_id, s.source_id, float(t)))
            for t, v in zip(s.frame_times, s.frame_vectors, strict=True)]  # fmt: skip


def _replace(index: SearchIndex, s: SourceToIndex, frames: list[FrameRow] | None,
             segments: list[SegmentRow] | None) -> str | None:  # fmt: skip
    try:
        index.replace_source(s.workspace_id, s.source_id, frames, segments)
        return None
    except Exception as exc:
        log.warning("search index of %s: %s", s.source_id, exc)
        return f"index: {type(exc).__name__}: {exc}"


def index_frames(index: SearchIndex, s: SourceToIndex) -> tuple[SourceToIndex, str | None]:
    """Write a source's frames now (they need no model) and hand back the source without its
    vectors, so that a batch of thousands of videos never holds every video's frame
    embeddings until its transcripts are embedded; with the reason, if any, they failed."""
    frames = frame_rows(s)
    problem = None if frames is None else _replace(index, s, frames, None)
    return replace(s, frame_vectors=None, frame_times=np.zeros(0)), problem


def index_sources(settings: Settings, sources: list[SourceToIndex],
                  index: SearchIndex | None = None, *, warm: bool = False
                  ) -> dict[str, str | None]:  # fmt: skip
    """Index ``sources`` (replacing their earlier rows): frames as they come, transcript
    segments embedded together in one Ray Data pass (``warm``: by the warm sentence encoder
    service). Per source id, None or the reason it could not be indexed. A failure leaves
    the source's earlier rows as they were."""
    if not sources:
        return {}
    index = index or open_index(settings)
    outcome: dict[str, str | None] = {}
    slim = []
    for s in sources:
        rest, outcome[s.source_id] = index_frames(index, s)
        slim.append(rest)
    rows = [
        {"key": f"{s.source_id}:{i}", "source_id": s.source_id, "start": a, "end": b, "text": t}
        for s in slim
        for i, (a, b, t) in enumerate(s.segments)
    ]
    vectors: dict[str, list[tuple[int, np.ndarray]]] = {}
    if rows:
        try:
            cfg = TextEmbedConfig(model=settings.text_embed_model)
            ds = build_segment_embeddings(rows, cfg, settings, warm=warm)
            with timed("text_embed"):
                for batch in ds.iter_batches(batch_format="numpy", batch_size=None):
                    for key, vec in zip(batch["key"], batch["vector"], strict=True):
                        sid, i = str(key).split(":")
                        vectors.setdefault(sid, []).append((int(i), np.asarray(vec, np.float32)))
        except Exception as exc:  # no text model: no transcript of these sources is indexed
            reason = f"text embeddings: {type(exc).__name__}: {exc}"
            log.warning("search index: %s", reason)
            return {s.source_id: outcome[s.source_id] or reason for s in slim}
    for s in slim:
        by_i = dict(vectors.get(s.source_id, []))
        segments = [SegmentRow(s.workspace_id, s.source_id, a, b, text, by_i[i])
                    for i, (a, b, text) in enumerate(s.segments)]  # fmt: skip
        outcome[s.source_id] = outcome[s.source_id] or _replace(index, s, None, segments)
    return outcome
