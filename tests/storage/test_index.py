"""The search index on a real LanceDB (a directory under tmp_path; once on the S3 server)."""

from __future__ import annotations

import pickle
import uuid

import lancedb
import numpy as np
import pytest

from clipray.storage.index import (
    FrameRow,
    IndexConfig,
    IndexUnavailableError,
    SearchIndex,
    SegmentRow,
)

DIM = 32
WS_A, WS_B = "a" * 32, "b" * 32
LANCE_TYPE = {"IVF_HNSW_SQ": "IvfHnswSq", "IVF_PQ": "IvfPq"}
"""Our ``ann_kind`` -> the index type LanceDB lists."""


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clustered(n: int, rng: np.random.Generator, dim: int = DIM, centres: int = 40) -> np.ndarray:
    """Unit vectors around a few centres: what embeddings of frames of a few shots look like
    (uniform noise has no meaningful nearest neighbours to recall)."""
    c = unit(rng.standard_normal((centres, dim)))
    return unit(c[rng.integers(0, centres, n)] + rng.standard_normal((n, dim)) / np.sqrt(dim))


def frame_rows(ws: str, src: str, vectors: np.ndarray, t0: float = 0.0) -> list[FrameRow]:
    return [FrameRow(ws, src, t0 + i, v, f"thumbs/{src}/{t0 + i:.0f}.jpg")
            for i, v in enumerate(vectors)]  # fmt: skip


def segment_rows(ws: str, src: str, texts: list[str], vectors: np.ndarray) -> list[SegmentRow]:
    return [SegmentRow(ws, src, 2.0 * i, 2.0 * i + 1.5, x, v)
            for i, (x, v) in enumerate(zip(texts, vectors, strict=True))]  # fmt: skip


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(8)


@pytest.fixture
def index(tmp_path) -> SearchIndex:
    return SearchIndex(IndexConfig(uri=str(tmp_path / "index")))


def indices(uri: str, table: str) -> dict[tuple[str, ...], str]:
    """The indices LanceDB itself lists on a table: columns -> index type."""
    t = lancedb.connect(uri).open_table(table)
    return {tuple(ix.columns): ix.index_type for ix in t.list_indices()}


def test_the_nearest_frame_comes_first_with_its_time_and_thumbnail(index, rng):
    vectors = unit(rng.standard_normal((500, DIM)))
    index.replace_source(WS_A, "src1", frame_rows(WS_A, "src1", vectors), None)
    for i in (0, 123, 499):
        query = unit(vectors[i] + 0.02 * rng.standard_normal(DIM))
        hits = index.frames(WS_A, query, limit=5)
        assert (hits[0].source_id, hits[0].start, hits[0].end) == ("src1", float(i), float(i))
        assert hits[0].mode == "visual"
        assert hits[0].thumbnail_key == f"thumbs/src1/{i}.jpg"
        assert hits[0].score == pytest.approx(float(query @ vectors[i]), abs=1e-4)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


TEXTS = [
    "we choose to go to the moon in this decade",
    "not because they are easy but because they are hard",
    "that goal will serve to organize the best of our energies",
    "the eagle has landed on the surface",
]


@pytest.fixture(params=[None, "IVF_PQ", "IVF_HNSW_SQ"], ids=["flat", "ivf-pq", "ivf-hnsw-sq"])
def twins(request, tmp_path, rng) -> SearchIndex:
    """Workspaces A and B with identical rows (vectors, times, text); only their source ids
    tell them apart in hits. Searched flat, or through ANN indices on both tables."""
    kind = request.param
    cfg = IndexConfig(uri=str(tmp_path / "i"), ann_min_rows=10**9)
    if kind:  # PQ trains 256 centroids a code: 300 rows a workspace are enough
        cfg = IndexConfig(uri=cfg.uri, ann_min_rows=600, ann_kind=kind)
    index = SearchIndex(cfg)
    fv, sv = clustered(300, rng), clustered(300, rng)
    texts = [f"{TEXTS[i % 4]} {i}" for i in range(300)]
    for ws, src in ((WS_A, "a-src"), (WS_B, "b-src")):
        index.add_frames(frame_rows(ws, src, fv))
        index.add_segments(segment_rows(ws, src, texts, sv))
    index.maybe_optimize()
    for table in ("frames", "segments"):
        assert indices(cfg.uri, table).get(("vector",)) == (kind and LANCE_TYPE[kind])
    return index


@pytest.mark.parametrize("mode", ["frames", "segments_by_vector", "segments_by_text"])
def test_a_workspace_only_ever_sees_its_own_rows(twins, rng, mode):
    for ws, own in ((WS_A, "a-src"), (WS_B, "b-src")):
        for _ in range(5):
            query = (
                "moon eagle hard energies"
                if mode == "segments_by_text"
                else unit(rng.standard_normal(DIM))
            )
            # fewer than each workspace has: a short answer would be redone exactly
            hits = getattr(twins, mode)(ws, query, limit=20 if mode == "frames" else 3)
            assert len(hits) == (20 if mode == "frames" else 3)
            assert {h.source_id for h in hits} == {own}
    assert twins.count("frames", WS_A) == twins.count("frames", WS_B) == 300
    assert twins.count("frames") == 600


@pytest.mark.parametrize("kind", [None, "IVF_PQ", "IVF_HNSW_SQ"])
def test_another_workspaces_closer_rows_do_not_starve_a_workspace(tmp_path, rng, kind):
    """B holds 3,000 frames much closer to the query than any of A's 30: a post-filter would
    take B's top rows and throw them all away. A prefilter gives A its own top 10, in order."""
    cfg = IndexConfig(uri=str(tmp_path / "i"), ann_min_rows=10**9)
    if kind:
        cfg = IndexConfig(uri=cfg.uri, ann_min_rows=1_000, ann_kind=kind)
    index = SearchIndex(cfg)
    query = unit(rng.standard_normal(DIM))
    near = unit(query + 0.05 * rng.standard_normal((3_000, DIM)))
    far = unit(query + 0.6 * rng.standard_normal((30, DIM)))
    index.add_frames(frame_rows(WS_B, "b-src", near))
    index.add_frames(frame_rows(WS_A, "a-src", far))
    index.maybe_optimize()
    assert indices(cfg.uri, "frames").get(("vector",)) == (kind and LANCE_TYPE[kind])

    hits = index.frames(WS_A, query, limit=10)
    expected = np.argsort(-(far @ query))[:10]
    assert [h.source_id for h in hits] == ["a-src"] * 10
    assert [h.start for h in hits] == [float(i) for i in expected]


def test_bm25_is_prefiltered_too(index, rng):
    """B's 200 segments say "moon" three times and would outrank A's every time."""
    b_rows = segment_rows(WS_B, "b-src", ["moon moon moon"] * 200, clustered(200, rng))
    index.replace_source(WS_B, "b-src", None, b_rows)
    index.replace_source(WS_A, "a-src", None, segment_rows(WS_A, "a-src", TEXTS, clustered(4, rng)))
    hits = index.segments_by_text(WS_A, "moon", limit=3)
    assert [(h.source_id, h.text) for h in hits] == [("a-src", TEXTS[0])]


def test_an_exact_word_finds_its_segment_first(index, rng):
    texts = [*TEXTS, "houston tranquility base here", "one small step for man"]
    vectors = unit(rng.standard_normal((len(texts), DIM)))
    index.replace_source(WS_A, "src", None, segment_rows(WS_A, "src", texts, vectors))
    for i, word in ((3, "eagle"), (4, "tranquility"), (5, "step"), (3, "Landing")):
        hits = index.segments_by_text(WS_A, word, limit=3)
        assert hits[0].text == texts[i], word  # "Landing" stems to "landed"'s root
        assert (hits[0].start, hits[0].end) == (2.0 * i, 2.0 * i + 1.5)
        assert hits[0].mode == "transcript"
        assert hits[0].score > 0
    assert index.segments_by_text(WS_A, "the", limit=3) == []  # a stop word matches nothing
    assert index.segments_by_text(WS_A, "  ", limit=3) == []
    # query syntax is not parsed: quotes and operators are just words
    assert index.segments_by_text(WS_A, 'eagle" OR "x', limit=3)[0].text == TEXTS[3]


def test_source_ids_restrict_the_search(index, rng):
    vectors = unit(rng.standard_normal((20, DIM)))
    for src in ("s1", "s2", "s3"):
        index.replace_source(WS_A, src, frame_rows(WS_A, src, vectors),
                             segment_rows(WS_A, src, TEXTS, vectors[:4]))  # fmt: skip
    query = vectors[7]
    assert {h.source_id for h in index.frames(WS_A, query, 100, source_ids=["s2"])} == {"s2"}
    both = index.frames(WS_A, query, 100, source_ids=["s1", "s3"])
    assert sorted(h.source_id for h in both) == ["s1"] * 20 + ["s3"] * 20
    assert {h.source_id for h in index.segments_by_text(WS_A, "moon", 10, ["s3"])} == {"s3"}
    assert {h.source_id for h in index.segments_by_vector(WS_A, query, 10, ["s1"])} == {"s1"}
    assert index.frames(WS_A, query, 10, source_ids=[]) == []
    assert index.frames(WS_B, query, 10, source_ids=["s1"]) == []


def test_replace_source_is_idempotent_and_replaces(index, rng):
    vectors = unit(rng.standard_normal((30, DIM)))
    frames, segments = frame_rows(WS_A, "s1", vectors), segment_rows(WS_A, "s1", TEXTS, vectors[:4])
    index.replace_source(WS_A, "s2", frame_rows(WS_A, "s2", vectors[:5]), None)
    for _ in range(2):
        index.replace_source(WS_A, "s1", frames, segments)
        assert (index.count("frames"), index.count("segments")) == (35, 4)
    # a re-analysis with other frames: only the new ones remain; None leaves segments alone
    index.replace_source(WS_A, "s1", frame_rows(WS_A, "s1", vectors[:10], t0=100.0), None)
    assert (index.count("frames"), index.count("segments")) == (15, 4)
    assert {h.start for h in index.frames(WS_A, vectors[0], 100, ["s1"])} == {
        100.0 + i for i in range(10)
    }
    with pytest.raises(ValueError, match="another source"):
        index.replace_source(WS_A, "s1", frame_rows(WS_A, "s2", vectors[:1]), None)


def test_delete_source_removes_that_source_from_both_tables_only(index, rng):
    vectors = unit(rng.standard_normal((10, DIM)))
    for ws, src in ((WS_A, "s1"), (WS_A, "s2"), (WS_B, "s1")):
        index.replace_source(ws, src, frame_rows(ws, src, vectors),
                             segment_rows(ws, src, TEXTS, vectors[:4]))  # fmt: skip
    index.delete_source(WS_A, "s1")
    assert (index.count("frames", WS_A), index.count("segments", WS_A)) == (10, 4)
    assert (index.count("frames", WS_B), index.count("segments", WS_B)) == (10, 4)
    assert {h.source_id for h in index.frames(WS_A, vectors[0], 100)} == {"s2"}
    assert {h.source_id for h in index.segments_by_text(WS_A, "moon", 10)} == {"s2"}
    assert [h.source_id for h in index.segments_by_text(WS_B, "moon", 10)] == ["s1"]


@pytest.mark.parametrize("kind", ["IVF_HNSW_SQ", "IVF_PQ"])
def test_the_ann_index_is_built_at_its_threshold_and_recalls_the_exact_top_10(tmp_path, rng, kind):
    uri, dim = str(tmp_path / "i"), 64  # 64-d: Lance's PQ default (dim / 16) is 4 codes a row
    index = SearchIndex(IndexConfig(uri=uri, ann_min_rows=2_000, ann_kind=kind))
    vectors = clustered(2_000, rng, dim)
    index.add_frames(frame_rows(WS_A, "s1", vectors[:1_999]))
    index.maybe_optimize()
    assert ("vector",) not in indices(uri, "frames")  # 1,999 rows: exact search only
    assert indices(uri, "frames")[("workspace_id",)] == "Bitmap"  # the prefilter's lookup

    index.add_frames(frame_rows(WS_A, "s2", vectors[1_999:]))
    index.maybe_optimize()
    built = indices(uri, "frames")
    assert built[("vector",)] == LANCE_TYPE[kind]

    index.prewarm()  # loads the indices; a hint Lance may ignore, never an error
    # queries near stored frames, as a frame of the same shot would be
    near = vectors[rng.choice(2_000, 50)] + 0.3 / np.sqrt(dim) * rng.standard_normal((50, dim))
    recalls = []
    for q in unit(near):
        exact = {(h.source_id, h.start) for h in index.frames(WS_A, q, 10, exact=True)}
        approx = {(h.source_id, h.start) for h in index.frames(WS_A, q, 10)}
        recalls.append(len(exact & approx) / 10)
    assert np.mean(recalls) >= 0.9


def test_segments_get_a_bm25_and_an_ann_index_and_new_rows_are_merged_in(tmp_path, rng):
    uri = str(tmp_path / "i")
    index = SearchIndex(IndexConfig(uri=uri, ann_min_rows=500, unindexed_max_rows=2))
    texts = [f"segment {i} {TEXTS[i % 4]}" for i in range(500)]
    index.replace_source(WS_A, "s1", None, segment_rows(WS_A, "s1", texts, clustered(500, rng)))
    built = indices(uri, "segments")
    assert (built[("text",)], built[("vector",)]) == ("FTS", LANCE_TYPE[index.cfg.ann_kind])

    def unindexed() -> int:
        t = lancedb.connect(uri).open_table("segments")
        return max(ix.num_unindexed_rows for ix in t.list_indices())

    # one new row stays out of the indices, and is found meanwhile by a flat scan of it
    splash = segment_rows(WS_A, "s2", ["splashdown in the pacific"], clustered(1, rng))
    index.replace_source(WS_A, "s2", None, splash)
    assert unindexed() == 1
    assert index.segments_by_text(WS_A, "splashdown", 5)[0].source_id == "s2"
    assert index.segments_by_vector(WS_A, splash[0].vector, 1)[0].source_id == "s2"
    # two are merged in
    index.replace_source(WS_A, "s3", None, segment_rows(WS_A, "s3", TEXTS[:2], clustered(2, rng)))
    assert unindexed() == 0
    assert index.segments_by_text(WS_A, "splashdown", 5)[0].source_id == "s2"


def test_the_ann_index_is_rebuilt_when_the_table_outgrows_its_partitions(tmp_path, rng):
    uri = str(tmp_path / "i")
    index = SearchIndex(IndexConfig(uri=uri, ann_min_rows=500, partition_rows=100))
    vectors = clustered(2_100, rng)
    index.replace_source(WS_A, "s1", frame_rows(WS_A, "s1", vectors[:500]), None)

    def names() -> list[str]:
        t = lancedb.connect(uri).open_table("frames")
        return [ix.name for ix in t.list_indices() if ix.columns == ["vector"]]

    assert names() == ["vector_ivf5"]
    index.replace_source(WS_A, "s2", frame_rows(WS_A, "s2", vectors[500:2_000]), None)
    assert names() == ["vector_ivf5"]  # 2,000 rows: 4x what 5 partitions were sized for
    index.replace_source(WS_A, "s3", frame_rows(WS_A, "s3", vectors[2_000:]), None)
    assert names() == ["vector_ivf21"]
    assert index.frames(WS_A, vectors[2_050], 1)[0].source_id == "s3"


def test_a_small_workspace_in_far_partitions_still_gets_its_hits(tmp_path, rng):
    """The one partition probed (``nprobes=1``) holds B's rows near the query and none of
    A's: rather than fewer than ``limit`` hits, A gets the exact answer."""
    uri = str(tmp_path / "i")
    index = SearchIndex(IndexConfig(uri=uri, ann_min_rows=1_000, partition_rows=250, nprobes=1))
    query = unit(rng.standard_normal(DIM))
    near = unit(query + 0.05 * rng.standard_normal((500, DIM)))
    index.add_frames(frame_rows(WS_B, "b-src", np.concatenate([near, clustered(1_500, rng)])))
    index.add_frames(frame_rows(WS_A, "a-src", clustered(40, rng)))
    index.maybe_optimize()
    t = lancedb.connect(uri).open_table("frames")
    assert {ix.name: ix.num_unindexed_rows for ix in t.list_indices()}["vector_ivf8"] == 0
    hits = index.frames(WS_A, query, limit=10)
    assert [h.source_id for h in hits] == ["a-src"] * 10
    assert hits == index.frames(WS_A, query, limit=10, exact=True)


def test_nothing_indexed_yet_answers_empty(index, rng):
    q = unit(rng.standard_normal(DIM))
    assert index.frames(WS_A, q, 10) == []
    assert index.segments_by_vector(WS_A, q, 10) == []
    assert index.segments_by_text(WS_A, "moon", 10) == []
    assert index.count("frames") == index.count("segments", WS_A) == 0
    index.delete_source(WS_A, "s1")  # nothing to delete is not an error
    index.maybe_optimize()
    index.replace_source(WS_A, "s1", frame_rows(WS_A, "s1", unit(rng.standard_normal((3, DIM)))),
                         segments=[])  # fmt: skip
    assert index.segments_by_text(WS_A, "moon", 10) == []  # still no segments table
    assert len(index.frames(WS_A, q, 10)) == 3


def test_bad_input_is_refused_with_a_clear_message(index, rng):
    index.replace_source(WS_A, "s1", frame_rows(WS_A, "s1", unit(rng.standard_normal((3, DIM)))),
                         None)  # fmt: skip
    with pytest.raises(IndexUnavailableError, match=r"holds 32-d vectors, got 512-d"):
        index.frames(WS_A, unit(rng.standard_normal(512)), 10)
    with pytest.raises(IndexUnavailableError, match=r"holds 32-d vectors, got 16-d"):
        index.add_frames(frame_rows(WS_A, "s2", unit(rng.standard_normal((2, 16)))))
    with pytest.raises(ValueError, match="one finite, nonzero vector"):
        index.frames(WS_A, np.zeros(DIM, np.float32), 10)
    with pytest.raises(ValueError, match="one finite, nonzero vector"):
        index.frames(WS_A, unit(rng.standard_normal((2, DIM))), 10)
    with pytest.raises(ValueError, match="finite and nonzero"):
        index.add_frames(frame_rows(WS_A, "s2", np.full((1, DIM), np.nan, np.float32)))
    with pytest.raises(ValueError, match="workspace_id must match"):
        index.frames("x' OR '1' = '1", unit(rng.standard_normal(DIM)), 10)
    with pytest.raises(ValueError, match="source_id must match"):
        index.delete_source(WS_A, "s1' OR source_id != '")
    with pytest.raises(ValueError, match="limit"):
        index.frames(WS_A, unit(rng.standard_normal(DIM)), 0)
    with pytest.raises(ValueError, match="no table"):
        index.count("clips")
    assert index.count("frames") == 3  # nothing above wrote or deleted a row


def test_another_handle_sees_new_rows_and_the_index_pickles(tmp_path, rng):
    """Pipeline workers write, Serve replicas read, each with its own handle."""
    cfg = IndexConfig(uri=str(tmp_path / "i"), read_consistency_s=0)
    # what Ray does to an index passed to a task: the bytes are our own
    reader, writer = SearchIndex(cfg), pickle.loads(pickle.dumps(SearchIndex(cfg)))  # noqa: S301
    vectors = unit(rng.standard_normal((4, DIM)))
    writer.replace_source(WS_A, "s1", frame_rows(WS_A, "s1", vectors[:2]), None)
    assert reader.count("frames") == 2
    writer.replace_source(WS_A, "s2", frame_rows(WS_A, "s2", vectors[2:]), None)
    assert {h.source_id for h in reader.frames(WS_A, vectors[3], 10)} == {"s1", "s2"}


def test_an_index_on_the_s3_server(s3_server, buckets, rng):
    uri = f"s3://{buckets.media.bucket}/search-index-{uuid.uuid4().hex}"
    index = SearchIndex(IndexConfig(uri=uri, storage_options={
        "aws_endpoint": s3_server.url or "",
        "aws_access_key_id": s3_server.access_key_id or "",
        "aws_secret_access_key": s3_server.secret_access_key or "",
        "aws_region": s3_server.region,
        "allow_http": "true",
    }))  # fmt: skip
    vectors = unit(rng.standard_normal((20, DIM)))
    index.replace_source(WS_A, "s1", frame_rows(WS_A, "s1", vectors),
                         segment_rows(WS_A, "s1", TEXTS, vectors[:4]))  # fmt: skip
    assert index.frames(WS_A, vectors[5], 1)[0].start == 5.0
    assert index.segments_by_text(WS_A, "eagle", 1)[0].text == TEXTS[3]
    index.delete_source(WS_A, "s1")
    assert index.count("frames") == index.count("segments") == 0
