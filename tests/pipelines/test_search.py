"""Search end to end on a real Ray, LanceDB, SeaweedFS and database: the analysis indexes
what was said (and shown, with CLIP weights), queries find it, and no workspace ever sees
another's hits. Nothing is mocked: the transcript is faster-whisper's, the embeddings are
all-MiniLM-L6-v2's and open_clip's."""

from __future__ import annotations

import csv
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

from clipray.cluster.services import ensure_workspace, open_database, open_index
from clipray.models.query import QueryEncoders
from clipray.pipelines.analyze import analyze_config
from clipray.pipelines.ingest import IngestContext, ingest
from clipray.pipelines.runner import AnalysisRunner
from clipray.services.sources import delete as delete_source
from clipray.storage import migrate
from clipray.storage.search import MAX_SPAN_S, Query, QueryVectors, SearchError, run_search

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
LJ = MEDIA / "speech" / "ljspeech" / "ljspeech_LJ001-0001_0032"
SCENES = MEDIA / "scene_cuts" / "pyscenedetect"

# Each query says what one sentence says, in other words (the sentence ids are LJSpeech's).
PARAPHRASES = [
    ("LJ001-0003", "for hundreds of years China printed from carved wooden blocks before Dutch "
                   "craftsmen did the same"),
    ("LJ001-0005", "metal type that can be rearranged, created around 1450, is where printing "
                   "really began"),
    ("LJ001-0007", "Gutenberg's famous bible was the oldest volume produced with movable "
                   "characters"),
    ("LJ001-0011", "above all, the shape of the characters has to be attractive"),
    ("LJ001-0016", "handwriting reached its peak in medieval times"),
    ("LJ001-0018", "early volumes used blackletter, a gothic version of old roman script"),
    ("LJ001-0025", "a looser, rounder hand that is nicer and simpler to read"),
    ("LJ001-0028", "print shops in Paris, Basel, Strasbourg and other towns"),
    ("LJ001-0031", "two men started a press at a monastery not far from Rome in 1465"),
    ("LJ001-0032", "a lovely typeface halfway between gothic and roman letters"),
]  # fmt: skip
EXACT = ("LJ001-0009", "the art of making books by means of movable types")


def _sentences() -> dict[str, tuple[float, float]]:
    with open(LJ.with_suffix(".segments.tsv"), newline="") as f:
        return {r["id"]: (float(r["start_s"]), float(r["end_s"]))
                for r in csv.DictReader(f, delimiter="\t")}  # fmt: skip


def _finds(moment, span: tuple[float, float]) -> bool:
    """The moment holds the sentence: the sentence's middle lies inside it."""
    middle = (span[0] + span[1]) / 2
    return moment.start - 0.5 <= middle <= moment.end + 0.5


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def migrated(settings, s3_server):
    migrate.upgrade(settings.resolved_database_url)
    return settings


@pytest.fixture(scope="module")
def encoders(migrated) -> QueryEncoders:
    return QueryEncoders.from_settings(migrated)


@pytest.fixture(scope="module")
def lj_video(tmp_path_factory) -> Path:
    """The 231 s LJSpeech reading over a small still picture."""
    out = tmp_path_factory.mktemp("lj") / "lj.mp4"
    _ffmpeg("-f", "lavfi", "-i", "color=c=0x336699:s=320x180:r=5", "-i", str(LJ) + ".flac",
            "-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-g", "50",
            "-c:a", "aac", str(out))  # fmt: skip
    return out


def _analysed(settings, buckets, path: Path, slug: str):
    db = open_database(settings)
    ws = ensure_workspace(db, f"{slug}-{uuid.uuid4().hex[:6]}")
    ctx = IngestContext(buckets, db, ws.id)
    item = ingest(ctx, str(path))
    (outcome,) = AnalysisRunner(settings, ctx, analyze_config(settings)).run([(item, path)])
    assert outcome.error is None, outcome.error
    assert outcome.index_error is None, outcome.index_error
    return db, ws.id, item.source.id


@pytest.fixture(scope="module")
def lj(migrated, buckets, ray_local, lj_video):
    db, ws, source_id = _analysed(migrated, buckets, lj_video, "lj")
    yield ws, source_id
    db.dispose()


def _transcript(encoders, ws: str, text: str, settings, **kw):
    q = Query(text, "transcript", **kw)
    vec = encoders.sentences([text])[0]
    return run_search(open_index(settings), ws, q, QueryVectors(sentence=vec)).moments


def test_paraphrases_find_their_sentence_in_the_top_three(lj, encoders, migrated):
    ws, source_id = lj
    spans = _sentences()
    found = []
    for sentence_id, query in PARAPHRASES:
        top = _transcript(encoders, ws, query, migrated, limit=3)
        assert all(m.source_id == source_id for m in top)
        assert all(m.end - m.start <= MAX_SPAN_S + 1e-6 for m in top)
        if any(_finds(m, spans[sentence_id]) for m in top):
            found.append(sentence_id)
    assert len(found) >= 8, f"found {found}"


def test_an_exact_phrase_finds_its_sentence_first(lj, encoders, migrated):
    ws, _ = lj
    first = _transcript(encoders, ws, EXACT[1], migrated, limit=5)[0]
    assert _finds(first, _sentences()[EXACT[0]])
    assert "movable types" in first.text.lower()
    assert first.modes == ("transcript",)


@pytest.mark.parametrize(("word", "sentence_id"), [
    pytest.param("Paris", "LJ001-0028", id="paris"),
    pytest.param("monastery", "LJ001-0031", id="monastery"),
    pytest.param("Chinese", "LJ001-0003", id="chinese"),
])  # fmt: skip
def test_a_one_word_query_gives_a_moment_tight_around_its_sentence(lj, encoders, migrated,
                                                                   word, sentence_id):  # fmt: skip
    """Each word is said once in the 231 s reading: the first moment is whisper's segment
    that says it, alone, not 30 s of its neighbours (which only the sentence embedding
    ranks, below the one both lists found)."""
    ws, _ = lj
    vec = encoders.sentences([word])[0]
    res = run_search(open_index(migrated), ws, Query(word, "hybrid"), QueryVectors(sentence=vec),
                     max_span_s=migrated.search_moment_max_s)  # fmt: skip
    first = res.moments[0]
    assert _finds(first, _sentences()[sentence_id])
    assert word.lower() in first.text.lower()
    (hit,) = first.hits
    assert (first.start, first.end) == (hit.start, hit.end)
    assert first.text == hit.text
    assert all(m.end - m.start <= migrated.search_moment_max_s for m in res.moments)


def test_visual_mode_is_unavailable_without_clip_weights(lj, encoders, migrated):
    ws, _ = lj
    assert not encoders.visual_available
    with pytest.raises(SearchError) as err:
        run_search(open_index(migrated), ws, Query("a blue picture", "visual"), QueryVectors())
    assert err.value.code == "VISUAL_SEARCH_UNAVAILABLE"


def test_two_workspaces_with_the_same_media_never_see_each_other(
    migrated, buckets, ray_local, short_talk, encoders
):
    """The same video in two workspaces: every query of each, in every mode it can run and
    at any depth, returns only its own source; a restriction to the other's source finds
    nothing (the filter is inside the index query, not applied to its results)."""
    db_a, ws_a, src_a = _analysed(migrated, buckets, short_talk, "iso-a")
    db_b, ws_b, src_b = _analysed(migrated, buckets, short_talk, "iso-b")
    index = open_index(migrated)
    for query in ("ask not what your country can do for you", "my fellow Americans", "moon"):
        vec = encoders.sentences([query])[0]
        for ws, mine in ((ws_a, src_a), (ws_b, src_b)):
            for limit in (1, 10, 100):
                res = run_search(index, ws, Query(query, "hybrid", limit=limit),
                                 QueryVectors(sentence=vec))  # fmt: skip
                assert res.moments, query
                assert {m.source_id for m in res.moments} == {mine}
        other = run_search(index, ws_a, Query(query, "transcript", source_ids=(src_b,)),
                           QueryVectors(sentence=vec))  # fmt: skip
        assert other.moments == []
    # Deleting one workspace's source takes its rows away; the other's stay.
    delete_source(db_a, buckets, index, ws_a, src_a)
    vec = encoders.sentences(["my fellow Americans"])[0]
    assert run_search(index, ws_a, Query("my fellow Americans", "transcript"),
                      QueryVectors(sentence=vec)).moments == []  # fmt: skip
    assert run_search(index, ws_b, Query("my fellow Americans", "transcript"),
                      QueryVectors(sentence=vec)).moments  # fmt: skip
    assert not index.has_source(ws_a, src_a)
    assert list(buckets.media.list(f"{ws_a}/sources/{src_a}/")) == []
    assert list(buckets.media.list(f"{ws_a}/analysis/{src_a}/")) == []
    db_a.dispose()
    db_b.dispose()


def test_a_frame_finds_its_own_scene_through_open_clip(migrated, buckets, ray_local,
                                                       random_clip, tmp_path):  # fmt: skip
    settings = migrated.model_copy(update=random_clip)
    video = SCENES / "testvideo.mp4"
    db, ws, source_id = _analysed(settings, buckets, video, "visual")
    encoders = QueryEncoders.from_settings(settings)
    assert encoders.visual_available
    # testvideo.mp4's scenes start at frames 30, 180 and 394 of 29.97 fps.
    scenes = [(0.0, 30 / 29.97), (30 / 29.97, 180 / 29.97), (180 / 29.97, 394 / 29.97),
              (394 / 29.97, 24.0)]  # fmt: skip
    index = open_index(settings)
    for lo, hi in scenes[1:]:
        at = round((lo + hi) / 2 * 2) / 2  # a sampled frame's time (2 per second)
        still = tmp_path / f"{at}.png"
        _ffmpeg("-ss", f"{at}", "-i", str(video), "-frames:v", "1", str(still))
        from PIL import Image

        frame = np.asarray(Image.open(still).convert("RGB"))[None]
        vec = encoders.clip_images(frame)[0]
        res = run_search(index, ws, Query("", "visual", limit=3), QueryVectors(visual=vec))
        best = res.moments[0]
        assert best.source_id == source_id
        assert best.modes == ("visual",)
        hit = max(best.hits, key=lambda h: h.score)
        assert lo - 0.5 <= hit.start <= hi + 0.5, (at, hit.start)
        assert hit.score > 0.99  # its own frame, through the same network
    db.dispose()


def test_a_cached_analysis_whose_rows_were_lost_is_indexed_again(migrated, buckets, ray_local,
                                                                 short_talk):  # fmt: skip
    db = open_database(migrated)
    ws = ensure_workspace(db, f"reindex-{uuid.uuid4().hex[:6]}")
    ctx = IngestContext(buckets, db, ws.id)
    runner = AnalysisRunner(migrated, ctx, analyze_config(migrated))
    item = ingest(ctx, str(short_talk))
    (first,) = runner.run([(item, short_talk)])
    index = open_index(migrated)
    assert index.has_source(ws.id, item.source.id)
    index.delete_source(ws.id, item.source.id)  # the index lost them; the analysis is kept
    (again,) = runner.run([(ingest(ctx, str(short_talk)), short_talk)])
    assert again.cached
    assert again.index_error is None
    assert index.has_source(ws.id, item.source.id)
    assert first.error is None
    db.dispose()
