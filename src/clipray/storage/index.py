"""The search index: every frame and every transcript segment of every source, on LanceDB.

Two tables in one LanceDB database, a local directory (embedded mode) or ``s3://bucket/prefix``
on an S3-compatible server:

- ``frames``: one row per sampled frame, its image embedding (CLIP) and thumbnail key;
- ``segments``: one row per transcript segment, its text (BM25) and text embedding.

Vectors are unit length and compared by cosine distance; a hit's score is ``1 - distance``
for vector searches (higher is better) and the BM25 score for text.

Every query carries its workspace as a LanceDB *prefilter*: the rows of other workspaces are
removed before the nearest neighbours (or the best BM25 matches) are chosen, never after, so a
workspace can neither see another's rows nor be starved of its own results by closer rows of
another. Small tables are searched exactly (flat); once a table reaches
:attr:`IndexConfig.ann_min_rows` rows, :meth:`SearchIndex.maybe_optimize` builds an approximate
(ANN) index on it.

    >>> index = SearchIndex(IndexConfig(uri="/tmp/clipray-index"))  # doctest: +SKIP
    >>> index.replace_source(ws, src, frames=[FrameRow(ws, src, 12.0, vec, "thumbs/12.jpg")],
    ...                      segments=None)  # doctest: +SKIP
    >>> index.frames(ws, query_vec, limit=20)  # doctest: +SKIP
    [Hit(source_id=src, start=12.0, end=12.0, score=0.31, mode='visual', ...)]
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.index import FTS, Bitmap, BTree, HnswSq, IvfPq
from lancedb.query import MatchQuery

from clipray.storage.index_tables import (  # noqa: F401  (re-exported: the index's public names)
    _SCHEMAS,
    ANN_KINDS,
    BM25,
    DISTANCE,
    FRAMES,
    METRIC,
    PARTITION_ROWS,
    REBUILD_GROWTH,
    REFINE_FACTOR,
    SEGMENTS,
    SOURCE,
    TABLES,
    TEXT,
    VECTOR,
    WORKSPACE,
    FrameRow,
    IndexConfig,
    IndexUnavailableError,
    SegmentRow,
    _check_dim,
    _check_id,
    _segment_hits,
    _source_filter,
    _to_arrow,
    _where,
    frames_schema,
    segments_schema,
)
from clipray.storage.ranking import Hit


class SearchIndex:
    """The two tables behind search. Connects on first use, so it is cheap to build on a Ray
    driver and to pickle into tasks (the connection is not pickled); safe to share between
    threads."""

    def __init__(self, cfg: IndexConfig) -> None:
        if cfg.ann_kind not in ANN_KINDS:
            raise ValueError(f"ann_kind must be one of {ANN_KINDS}, not {cfg.ann_kind!r}")
        self.cfg = cfg
        self._lock = threading.Lock()
        self._db: Any = None
        self._tables: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"cfg": self.cfg}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["cfg"])  # type: ignore[misc]

    # -- writes ---------------------------------------------------------------------------------

    def replace_source(
        self,
        workspace_id: str,
        source_id: str,
        frames: Sequence[FrameRow] | None,
        segments: Sequence[SegmentRow] | None,
    ) -> None:
        """Re-index one source: its old rows in a table are deleted, then the new ones added,
        so running it twice leaves one copy. ``None`` leaves that table alone; an empty
        sequence only deletes. Indices are then brought up to date (:meth:`maybe_optimize`).

        Delete and add are two commits: between them (milliseconds) a search sees neither the
        old nor the new rows of this source; a crash between them leaves it unindexed until
        the step is run again, which is safe because it is idempotent.
        """
        _check_id(workspace_id, "workspace_id")
        _check_id(source_id, "source_id")
        for name, rows in ((FRAMES, frames), (SEGMENTS, segments)):
            if rows is None:
                continue
            foreign = [
                r for r in rows if (r.workspace_id, r.source_id) != (workspace_id, source_id)
            ]
            if foreign:
                raise ValueError(
                    f"replace_source({workspace_id!r}, {source_id!r}) got {len(foreign)} "
                    f"{name} rows of another source, e.g. {foreign[0].source_id!r}"
                )
            table = self._open(name)
            if table is not None:
                table.delete(_source_filter(workspace_id, source_id))
            if rows:
                self._add(name, rows)
        self.maybe_optimize()

    def add_frames(self, rows: Sequence[FrameRow] | pa.Table) -> None:
        """Append frames (no delete, no index maintenance): the bulk path for loaders and the
        benchmark. A pyarrow table with the ``frames`` columns skips the per-row conversion."""
        self._add(FRAMES, rows)

    def add_segments(self, rows: Sequence[SegmentRow] | pa.Table) -> None:
        """Append transcript segments; see :meth:`add_frames`."""
        self._add(SEGMENTS, rows)

    def delete_source(self, workspace_id: str, source_id: str) -> None:
        """Remove a source's rows from both tables (the source was deleted)."""
        where = _source_filter(workspace_id, source_id)
        for name in TABLES:
            table = self._open(name)
            if table is not None:
                table.delete(where)

    def maybe_optimize(self) -> None:
        """Bring each table's indices up to date. Scalar indices on the two id columns (what
        the prefilter and deletes look up) and the BM25 index on ``segments.text`` are built
        at any size; the ANN index once a table has ``ann_min_rows`` rows, and again once the
        table outgrew its partitions (``REBUILD_GROWTH``). Rows added since are merged into
        the indices (Lance's ``optimize``, which also compacts small files) once there are
        ``unindexed_max_rows`` of them; until then searches find them by a flat scan.
        """
        for name in TABLES:
            table = self._open(name)
            if table is None:
                continue
            indexed = {tuple(ix.columns): ix for ix in table.list_indices()}
            unindexed = max((ix.num_unindexed_rows or 0 for ix in indexed.values()), default=0)
            if unindexed >= self.cfg.unindexed_max_rows:
                table.optimize()
            # The prefilter's lookup: a bitmap per workspace hands over its rows at once, where
            # a B-tree compares every matching key (24 ms against 0.4 ms for a workspace of
            # 1M rows). A source's rows are few among many: a B-tree suits them.
            if (WORKSPACE,) not in indexed:
                table.create_index(WORKSPACE, config=Bitmap())
            if (SOURCE,) not in indexed:
                table.create_index(SOURCE, config=BTree())
            if name == SEGMENTS and (TEXT,) not in indexed:
                # English stemming and stop words: "landing" finds "landed", and "the" alone
                # matches nothing rather than everything.
                table.create_index(TEXT, config=FTS(language="English", stem=True))
            rows = table.count_rows()
            ann = indexed.get((VECTOR,))
            if rows >= self.cfg.ann_min_rows and (ann is None or self._outgrown(ann.name, rows)):
                built = self._build_ann(table, rows)
                if ann is not None and ann.name != built:
                    # Dropped only now: until the new index exists, queries use the old one.
                    table.drop_index(ann.name)

    def prewarm(self) -> None:
        """Load every index into memory now (the benchmark does, before timing; a long-lived
        reader could at start-up; nothing in the app calls it yet): an IVF
        partition is otherwise read on the first query that probes it, and those queries pay
        tens of milliseconds each (at 1M rows, 31 partitions of ~16 MB)."""
        for name in TABLES:
            table = self._open(name)
            if table is not None:
                for ix in table.list_indices():
                    table.prewarm_index(ix.name)

    def _partition_rows(self) -> int:
        return self.cfg.partition_rows or PARTITION_ROWS[self.cfg.ann_kind]

    def _build_ann(self, table: Any, rows: int) -> str:
        parts = max(1, round(rows / self._partition_rows()))
        if self.cfg.ann_kind == "IVF_PQ":
            config: HnswSq | IvfPq = IvfPq(distance_type=METRIC, num_partitions=parts)
        else:
            config = HnswSq(
                distance_type=METRIC,
                num_partitions=parts,
                ef_construction=self.cfg.ef_construction,
            )
        # Lance keeps no partition count that we could read back: the index's name does.
        name = f"{VECTOR}_ivf{parts}"
        table.create_index(VECTOR, config=config, name=name, replace=True)
        return name

    def _outgrown(self, index_name: str, rows: int) -> bool:
        """Whether the table holds ``REBUILD_GROWTH`` times the rows the ANN index's
        partitions were sized for (an index named otherwise was built elsewhere: kept)."""
        found = re.fullmatch(rf"{VECTOR}_ivf(\d+)", index_name)
        if found is None:
            return False
        return rows > REBUILD_GROWTH * int(found[1]) * self._partition_rows()

    # -- reads ----------------------------------------------------------------------------------

    def frames(
        self,
        workspace_id: str,
        vector: np.ndarray,
        limit: int,
        source_ids: Sequence[str] | None = None,
        exact: bool = False,
    ) -> list[Hit]:
        """The workspace's frames nearest to an image-space ``vector``, best first.
        ``exact`` skips the ANN index (ground truth for recall, or a small workspace)."""
        table = self._searchable(FRAMES, workspace_id, limit, source_ids)
        if table is None:
            return []
        columns = [SOURCE, "t", "thumbnail_key"]
        rows = self._nearest(table, workspace_id, vector, limit, source_ids, exact, columns)
        cols = rows.to_pydict()
        return [
            Hit(source_id=s, start=t, end=t, score=1.0 - d, mode="visual", thumbnail_key=k)
            for s, t, k, d in zip(
                cols[SOURCE], cols["t"], cols["thumbnail_key"], cols[DISTANCE], strict=True
            )
        ]

    def segments_by_vector(
        self,
        workspace_id: str,
        vector: np.ndarray,
        limit: int,
        source_ids: Sequence[str] | None = None,
    ) -> list[Hit]:
        """The workspace's transcript segments nearest to a text-space ``vector``."""
        table = self._searchable(SEGMENTS, workspace_id, limit, source_ids)
        if table is None:
            return []
        columns = [SOURCE, "start", "end", TEXT]
        rows = self._nearest(table, workspace_id, vector, limit, source_ids, False, columns)
        return _segment_hits(rows, [1.0 - d for d in rows[DISTANCE].to_pylist()])

    def segments_by_text(
        self,
        workspace_id: str,
        query: str,
        limit: int,
        source_ids: Sequence[str] | None = None,
    ) -> list[Hit]:
        """The workspace's transcript segments that best match ``query`` by BM25.

        The query is matched as plain words (any of them), never parsed as query syntax, so
        user input cannot change the search. BM25's document frequencies are those of the
        whole table, not of the workspace: scores (never which rows match) depend a little on
        other workspaces' transcripts.
        """
        table = self._searchable(SEGMENTS, workspace_id, limit, source_ids)
        if table is None or not query.strip():
            return []
        rows = (
            table.search(MatchQuery(query, TEXT), query_type="fts")
            # The FTS path prefilters too (Lance applies the mask inside the BM25 top-k);
            # tests/storage/test_index.py proves a post-filter would starve the workspace.
            .where(_where(workspace_id, source_ids), prefilter=True)
            .select([SOURCE, "start", "end", TEXT, BM25])
            .limit(limit)
            .to_arrow()
        )
        return _segment_hits(rows, rows[BM25].to_pylist())

    def count(self, table: str, workspace_id: str | None = None) -> int:
        """Rows in ``table`` (``frames`` or ``segments``), of one workspace or all; 0 when the
        table does not exist yet."""
        if table not in TABLES:
            raise ValueError(f"no table {table!r}; the index has {TABLES}")
        t = self._open(table)
        if t is None:
            return 0
        if workspace_id is None:
            return t.count_rows()
        _check_id(workspace_id, "workspace_id")
        return t.count_rows(_where(workspace_id, None))

    def has_source(self, workspace_id: str, source_id: str) -> bool:
        """Whether any table holds rows of this source (an analysis indexed it)."""
        _check_id(workspace_id, "workspace_id")
        _check_id(source_id, "source_id")
        for table in TABLES:
            t = self._open(table)
            if t is not None and t.count_rows(_where(workspace_id, [source_id])) > 0:
                return True
        return False

    def frame_vectors(self, workspace_id: str, source_ids: Sequence[str]
                      ) -> dict[str, tuple[np.ndarray, np.ndarray]]:  # fmt: skip
        """Each source's indexed frames, ``(times, vectors)`` in time order: what a library
        item is scored on against a clip's words (``clips/broll.py``). A source without
        frames is left out."""
        _check_id(workspace_id, "workspace_id")
        for s in source_ids:
            _check_id(s, "source_id")
        table = self._open(FRAMES)
        if table is None or not source_ids:
            return {}
        rows = (table.search().where(_where(workspace_id, source_ids), prefilter=True)
                .select([SOURCE, "t", VECTOR]).limit(None).to_arrow().to_pydict())  # fmt: skip
        found: dict[str, list[tuple[float, Any]]] = {}
        for s, t, v in zip(rows[SOURCE], rows["t"], rows[VECTOR], strict=True):
            found.setdefault(s, []).append((t, v))
        out = {}
        for s, frames in found.items():
            frames.sort(key=lambda f: f[0])
            out[s] = (np.array([t for t, _ in frames], dtype=np.float32),
                      np.array([v for _, v in frames], dtype=np.float32))  # fmt: skip
        return out

    # -- plumbing -------------------------------------------------------------------------------

    def _connect(self) -> Any:
        with self._lock:
            if self._db is None:
                interval = self.cfg.read_consistency_s
                try:
                    self._db = lancedb.connect(
                        self.cfg.uri,
                        storage_options=self.cfg.storage_options,
                        read_consistency_interval=(
                            None if interval is None else timedelta(seconds=interval)
                        ),
                    )
                except Exception as e:
                    raise IndexUnavailableError(
                        f"cannot open the search index at {self.cfg.uri}: {e}"
                    ) from e
            return self._db

    def _open(self, name: str) -> Any | None:
        """The table, or ``None`` when nothing was written to it yet. A missing table is not
        remembered: another process may create it at any time."""
        table = self._tables.get(name)
        if table is not None:
            return table
        db = self._connect()
        try:
            if name not in db.list_tables().tables:
                return None
            table = db.open_table(name)
        except Exception as e:
            raise IndexUnavailableError(
                f"cannot open table {name!r} of the search index at {self.cfg.uri}: {e}"
            ) from e
        with self._lock:
            return self._tables.setdefault(name, table)

    def _add(self, name: str, rows: Sequence[FrameRow] | Sequence[SegmentRow] | pa.Table) -> None:
        data = _to_arrow(name, rows)
        if data.num_rows == 0:
            return
        dim = data.schema.field(VECTOR).type.list_size
        table = self._open(name)
        if table is None:
            # exist_ok: two workers indexing their first sources race to create the table.
            db = self._connect()
            table = db.create_table(name, schema=_SCHEMAS[name](dim), exist_ok=True)
            with self._lock:
                table = self._tables.setdefault(name, table)
        _check_dim(name, table, dim)
        table.add(data)

    def _searchable(
        self, name: str, workspace_id: str, limit: int, source_ids: Sequence[str] | None
    ) -> Any | None:
        """The table to search, or ``None`` when there is nothing to find."""
        _check_id(workspace_id, "workspace_id")
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        if source_ids is not None:
            for s in source_ids:
                _check_id(s, "source_id")
            if not source_ids:
                return None
        return self._open(name)

    def _nearest(
        self,
        table: Any,
        workspace_id: str,
        vector: np.ndarray,
        limit: int,
        source_ids: Sequence[str] | None,
        exact: bool,
        columns: list[str],
    ) -> pa.Table:
        v = np.asarray(vector, dtype=np.float32)
        if v.ndim != 1 or not np.isfinite(v).all() or not v.any():
            raise ValueError(f"a query vector is one finite, nonzero vector, got shape {v.shape}")
        _check_dim(table.name, table, v.shape[0])
        q = (
            table.search(v, vector_column_name=VECTOR)
            .distance_type(METRIC)
            .where(_where(workspace_id, source_ids), prefilter=True)
            .select([*columns, DISTANCE])
            .limit(limit)
        )
        if exact:
            return q.bypass_vector_index().to_arrow()
        # nprobes sets both of Lance's bounds: with a higher maximum, Lance 0.40 searches that
        # many partitions every time, not only when the first ones fell short (lance#5637).
        q = q.nprobes(self.cfg.nprobes)
        if self.cfg.ann_kind == "IVF_HNSW_SQ":
            q = q.ef(max(self.cfg.ef, limit))
        refine = self.cfg.refine_factor
        if refine is None:
            refine = REFINE_FACTOR[self.cfg.ann_kind]
        if refine:
            q = q.refine_factor(refine)
        rows = q.to_arrow()
        if rows.num_rows < limit:
            # The probed partitions held fewer than ``limit`` of the workspace's rows (or of
            # ``source_ids``'): so few rows pass the prefilter that a flat scan of them is
            # cheap, and it finds them wherever they lie.
            return self._nearest(table, workspace_id, v, limit, source_ids, True, columns)
        return rows
