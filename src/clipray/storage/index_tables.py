"""The search index's tables: names, arrow schemas, its configuration and rows, and the
checks every row and filter passes before it reaches LanceDB (``storage/index.py``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from clipray.domain.errors import CodedError
from clipray.storage.ranking import Hit

FRAMES = "frames"
SEGMENTS = "segments"
TABLES = (FRAMES, SEGMENTS)
VECTOR = "vector"
TEXT = "text"
WORKSPACE = "workspace_id"
SOURCE = "source_id"
DISTANCE = "_distance"
BM25 = "_score"
METRIC = "cosine"
"""Embeddings are compared by angle; the ANN index must be trained with the metric it is
queried with, so this one constant serves both."""

ANN_KINDS = ("IVF_PQ", "IVF_HNSW_SQ")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
"""What a workspace or source id may look like (ours are 32 hex chars). Ids are spliced into
LanceDB's SQL filters, so anything that could close a string literal is refused outright."""


def frames_schema(dim: int) -> pa.Schema:
    """The ``frames`` table: one row per sampled frame of a source."""
    return pa.schema(
        [
            pa.field(WORKSPACE, pa.string(), nullable=False),
            pa.field(SOURCE, pa.string(), nullable=False),
            pa.field("t", pa.float64(), nullable=False),
            pa.field(VECTOR, pa.list_(pa.float32(), dim), nullable=False),
            pa.field("thumbnail_key", pa.string(), nullable=False),
        ]
    )


def segments_schema(dim: int) -> pa.Schema:
    """The ``segments`` table: one row per transcript segment of a source."""
    return pa.schema(
        [
            pa.field(WORKSPACE, pa.string(), nullable=False),
            pa.field(SOURCE, pa.string(), nullable=False),
            pa.field("start", pa.float64(), nullable=False),
            pa.field("end", pa.float64(), nullable=False),
            pa.field(TEXT, pa.string(), nullable=False),
            pa.field(VECTOR, pa.list_(pa.float32(), dim), nullable=False),
        ]
    )


_SCHEMAS = {FRAMES: frames_schema, SEGMENTS: segments_schema}


@dataclass(frozen=True)
class IndexConfig:
    """Where the index lives and how it searches. Defaults measured with ``bench/search.py``
    (1M frames of 512-d in 20 workspaces, 2 CPU cores)."""

    uri: str
    """A local directory (embedded mode) or ``s3://bucket/prefix``."""
    storage_options: dict[str, str] | None = None
    """Passed to LanceDB for object stores: ``aws_endpoint``, ``aws_access_key_id``,
    ``aws_secret_access_key``, ``aws_region``, ``allow_http`` for a local S3 server."""
    ann_min_rows: int = 10_000
    """A table gets an approximate index once it holds this many rows; below, every search is
    exact (flat). A flat search reads every vector that passes the prefilter, so its worst case
    is one workspace owning the whole table: on 2 cores that measured p50/p95 17/24 ms at 10k
    rows of 512-d, 63/77 ms at 20k, 164/189 ms at 50k and 311/367 ms at 100k, past the 50 ms
    budget from ~15k. Building the index at 10k rows takes ~6 s (IVF_PQ), so there is no
    reason to wait longer; below it, results are exact and there is no index to maintain."""
    ann_kind: str = "IVF_PQ"
    """``IVF_PQ`` (default) or ``IVF_HNSW_SQ``. Both met the bench's targets (1M rows of 512-d,
    2 cores, defaults of each). In 20 workspaces IVF_PQ answered in p50 12-20 ms, p95 18-40 ms
    over three runs, recall@10 0.999-1.000; IVF_HNSW_SQ in 22/33 ms, 0.998. In one workspace of
    1M rows: 24/42 ms and 0.988 against 19/78 ms and 0.990. PQ keeps 32 bytes a row in memory
    against ~700 for HNSW-SQ (512 of codes plus the graph), so a Serve replica caches 20x the
    rows. Its costs: a slower build (270-290 s against 146 s at 1M rows), and
    ``refine_factor`` re-reads the full vectors of 50 candidates a query (one round of reads;
    on S3, of requests)."""
    partition_rows: int | None = None
    """Rows per IVF partition when an ANN index is built (the partition count follows the
    table's size); ``None``: ``PARTITION_ROWS[ann_kind]``."""
    nprobes: int = 8
    """IVF partitions searched per query, those with the nearest centroids. At 1M rows in 20
    workspaces, IVF_PQ (122 partitions) measured recall@10 0.997 / 1.000 / 1.000 and p95 13 /
    18 / 25 ms for 4 / 8 / 16 probes; IVF_HNSW_SQ (31 partitions) 0.975 / 0.994 / 0.999 at
    p95 16 / 20 / 26 ms for 3 / 5 / 8. 8 keeps recall a margin above 0.95 for queries less
    kind than the bench's. Where the probed partitions hold fewer than ``limit`` rows of the
    workspace (a small one), the query is answered by an exact search instead, so it still
    gets all its hits."""
    refine_factor: int | None = None
    """Fetch ``limit * refine_factor`` candidates from the index and re-rank them by exact
    distance, reading their full vectors; 0 turns it off; ``None``: ``REFINE_FACTOR[ann_kind]``.
    """
    ef: int = 200
    """IVF_HNSW_SQ only: candidates kept per graph searched (at least ``limit``). Lance's
    default, 1.5x the limit, loses whole shots on clustered frames when the prefilter keeps
    most rows (one large workspace): at 100k rows in one workspace recall@10 was 0.89 (some
    queries 0.0) with it, 0.98 with 60, 0.998 with 200, at the same latency; a selective
    prefilter already makes the search walk further, so 20 workspaces gained little."""
    ef_construction: int = 150
    """IVF_HNSW_SQ only: candidates per insertion. Half of Lance's default 300 halves the
    build (47 s instead of 137 s at 200k rows on 2 cores) with recall@10 still above 0.97 on
    the bench; 150 is the bottom of the range Lance's docs recommend (150 to 300)."""
    unindexed_max_rows: int = 10_000
    """Rows added since the indices were built are searched by a flat scan (of the workspace's
    share of them) until this many accumulate; then :meth:`SearchIndex.maybe_optimize` merges
    them in. Merging also compacts the table's small files, rewriting them, so doing it for
    every source would rewrite the growing tail of the table each time; 10k rows are about
    three hours of video at one frame a second, and flat-scanning them adds at worst ~20 ms
    (all of them one workspace's; see ``ann_min_rows``)."""
    read_consistency_s: float | None = 2.0
    """How stale a table handle may be before a read looks for newer versions written by other
    processes (pipeline workers write, Serve replicas read). 0 checks on every query, one more
    object-store request each; ``None`` never checks. A source becomes searchable minutes after
    upload, so two more seconds go unnoticed."""


PARTITION_ROWS = {"IVF_HNSW_SQ": 32_768, "IVF_PQ": 8_192}
"""Default rows per IVF partition of a new ANN index. PQ: Lance's own default. HNSW: one graph
per partition; with the workspace prefilter a graph search walks past the other workspaces'
nodes, so small graphs searched a few at a time beat Lance's default of one graph per ~1M
rows (at 1M rows in 20 workspaces: p95 70 ms for one graph, 33 ms for 8 of 31)."""
REFINE_FACTOR = {"IVF_HNSW_SQ": 0, "IVF_PQ": 5}
"""Default ``refine_factor`` per index kind. PQ's 512-d codes (32 bytes) cannot order the close
frames of one shot: at 1M rows recall@10 was 0.876 without re-ranking, 0.998 with 2x the
candidates, 1.000 with 5x, for ~1.5 ms more at p50 than 2x. 8-bit SQ can: re-ranking raised its
recall@10 from 0.999 to 1.0 for 6 ms more at p50, not worth a round of reads."""
REBUILD_GROWTH = 4
"""An ANN index is rebuilt once the table holds this many times the rows its partitions
were sized for: new rows join existing partitions, which otherwise grow without bound."""


class IndexUnavailableError(CodedError):
    """The index cannot answer (503 ``INDEX_UNAVAILABLE``): the database is unreachable
    (retryable), or a table was built for vectors of another dimension (a different
    embedding model) and must be rebuilt (not retryable)."""

    code = "INDEX_UNAVAILABLE"
    status = 503
    retryable = True

    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__(type(self).code, message, **kw)


@dataclass(frozen=True)
class FrameRow:
    """One sampled frame of a source and its image embedding."""

    workspace_id: str
    source_id: str
    t: float
    """Seconds from the start of the source."""
    vector: np.ndarray
    thumbnail_key: str
    """Object key of the frame's thumbnail, shown with the hit."""


@dataclass(frozen=True)
class SegmentRow:
    """One transcript segment of a source and its text embedding."""

    workspace_id: str
    source_id: str
    start: float
    end: float
    text: str
    vector: np.ndarray


def _check_id(value: str, what: str) -> None:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValueError(f"{what} must match {_ID.pattern}, got {value!r}")


def _where(workspace_id: str, source_ids: Sequence[str] | None) -> str:
    """The prefilter. Ids were checked against ``_ID``, so quoting them cannot break out."""
    where = f"{WORKSPACE} = '{workspace_id}'"
    if source_ids is not None:
        quoted = ", ".join(f"'{s}'" for s in source_ids)
        where += f" AND {SOURCE} IN ({quoted})"
    return where


def _source_filter(workspace_id: str, source_id: str) -> str:
    _check_id(workspace_id, "workspace_id")
    _check_id(source_id, "source_id")
    return f"{WORKSPACE} = '{workspace_id}' AND {SOURCE} = '{source_id}'"


def _check_dim(name: str, table: Any, dim: int) -> None:
    have = table.schema.field(VECTOR).type.list_size
    if dim != have:
        raise IndexUnavailableError(
            f"the {name} table holds {have}-d vectors, got {dim}-d: the embedding model "
            f"changed; re-embed with the model the index was built with, or rebuild the table",
            retryable=False,
        )


def _to_arrow(name: str, rows: Sequence[FrameRow] | Sequence[SegmentRow] | pa.Table) -> pa.Table:
    """Rows as an arrow table of the table's schema, checked: ids, one dimension, finite and
    nonzero vectors (cosine distance is undefined for a zero vector)."""
    if isinstance(rows, pa.Table):
        if VECTOR not in rows.schema.names or not pa.types.is_fixed_size_list(
            rows.schema.field(VECTOR).type
        ):
            raise ValueError(f"{name}: the {VECTOR} column must be a fixed-size list of float32")
        dim = rows.schema.field(VECTOR).type.list_size
        schema = _SCHEMAS[name](dim)
        try:
            data = rows.select(schema.names).cast(schema)
        except (KeyError, pa.ArrowInvalid, ValueError) as e:
            raise ValueError(f"{name}: rows do not fit the schema {schema}: {e}") from e
        flat = data.column(VECTOR).combine_chunks().flatten().to_numpy(zero_copy_only=False)
        vectors = flat.reshape(-1, dim) if dim else flat.reshape(0, 0)
        ids = set(data.column(WORKSPACE).unique().to_pylist())
        ids |= set(data.column(SOURCE).unique().to_pylist())
    else:
        if not rows:
            return _SCHEMAS[name](0).empty_table()
        try:
            vectors = np.stack([np.asarray(r.vector, dtype=np.float32) for r in rows])
        except ValueError as e:
            raise ValueError(f"{name}: vectors of different lengths in one batch: {e}") from e
        if vectors.ndim != 2:
            raise ValueError(f"{name}: each vector must be one-dimensional")
        schema = _SCHEMAS[name](vectors.shape[1])
        vec = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), vectors.shape[1])
        if name == FRAMES:
            cols: dict[str, Any] = {"t": [float(r.t) for r in rows]}
            cols["thumbnail_key"] = [r.thumbnail_key for r in rows]
        else:
            cols = {"start": [float(r.start) for r in rows], "end": [float(r.end) for r in rows]}
            cols[TEXT] = [r.text for r in rows]
        cols |= {WORKSPACE: [r.workspace_id for r in rows], SOURCE: [r.source_id for r in rows]}
        data = pa.table({**cols, VECTOR: vec}).select(schema.names).cast(schema)
        ids = {r.workspace_id for r in rows} | {r.source_id for r in rows}
    for i in ids:
        _check_id(i, "an id")
    if vectors.size and (not np.isfinite(vectors).all() or not vectors.any(axis=1).all()):
        raise ValueError(f"{name}: vectors must be finite and nonzero")
    return data


def _segment_hits(rows: pa.Table, scores: list[float]) -> list[Hit]:
    cols = rows.select([SOURCE, "start", "end", TEXT]).to_pydict()
    return [
        Hit(source_id=s, start=a, end=b, score=score, mode="transcript", text=x)
        for s, a, b, x, score in zip(
            cols[SOURCE], cols["start"], cols["end"], cols[TEXT], scores, strict=True
        )
    ]
