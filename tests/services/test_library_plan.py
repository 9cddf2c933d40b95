"""A job's plan with ``broll`` and ``sfx`` on reads the workspace's library (real SQLite, S3
and ffprobe; the analysis stored as the pipeline stores it, so no model runs; no render):
the B-roll insert is the item's source, the sound plays on its spoken tag, an empty library
plans without either and says so, and with CLIP on the footage is chosen by its indexed
frames (open_clip's real ViT-S-32 with seeded random weights, a real LanceDB index)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from fastapi.testclient import TestClient

from clipray.cluster.services import open_storage
from clipray.domain.analysis import Analysis
from clipray.pipelines.clipjob import RunOptions
from clipray.pipelines.ingest import IngestContext, Ingested
from clipray.pipelines.stages.decode import probe
from clipray.serve.app import create_api
from clipray.services import library
from clipray.services.main_job import choose, job_library
from clipray.storage.index import FrameRow, IndexConfig, SearchIndex
from clipray.storage.orm import Source, SourceOrigin
from tests.analysis_doc import JFK, analysis_of
from tests.apiclient import Account, register, upload

pytestmark = pytest.mark.integration

OPTS = RunOptions(max_clips=1, min_duration=5.0, max_duration=15.0, broll=True, sfx=True)


@pytest.fixture(scope="module")
def client(api_settings):
    with TestClient(create_api(api_settings)) as c:
        yield c


def _source(db, acct: Account, name: str, duration: float, video: bool = True) -> Source:
    with db.session() as s:
        src = Source(workspace_id=acct.workspace_id, origin=SourceOrigin.UPLOAD,
                     origin_uri=f"{name}.mp4", sha256=uuid.uuid4().hex * 2,
                     storage_key=f"{acct.workspace_id}/sources/{uuid.uuid4().hex}/{name}",
                     size_bytes=100_000, duration_s=duration, width=1280 if video else None,
                     height=720 if video else None, video_codec="h264" if video else None,
                     audio_codec="aac")  # fmt: skip
        s.add(src)
        s.flush()
        s.expunge(src)
        return src


def _talk(client, name, short_talk, settings, db):
    """A workspace with the JFK talk uploaded; its context, source as ingested, analysis."""
    acct = register(client, name)
    sid = upload(client, acct, short_talk).json()["source_id"]
    ctx = IngestContext.of(settings, open_storage(settings), db, acct.workspace_id)
    with db.session() as s:
        source = s.get(Source, sid)
        s.expunge(source)
    media = ctx.buckets.media.scoped(acct.workspace_id)
    item = Ingested(source, probe(media.presign_get(source.storage_key)), created=False)
    return acct, ctx, item, Analysis.from_json(analysis_of(source))


@pytest.fixture(scope="module")
def talk(client, short_talk, api_settings, api_db):
    return _talk(client, "broll-planner", short_talk, api_settings, api_db)


def test_an_empty_library_plans_without_inserts_and_says_so(api_settings, talk):
    _, ctx, item, analysis = talk
    lib = job_library(api_settings, ctx, OPTS)
    assert lib.items == ()
    assert lib.warnings == (library.EMPTY_BROLL, library.EMPTY_SFX)
    (p,) = choose(api_settings, analysis, item, OPTS, lib=lib)
    effects = p.spec.effects
    assert effects is None or (effects.broll is None and effects.sfx is None)
    assert job_library(api_settings, ctx, RunOptions()).warnings == ()  # nothing asked


def test_the_plan_cuts_away_to_the_items_source_and_plays_its_sound(client, api_settings,
                                                                     api_db, talk):  # fmt: skip
    acct, ctx, item, analysis = talk
    flag = _source(api_db, acct, "flag_on_a_pole", 9.0)
    ding = _source(api_db, acct, "ding", 0.8, video=False)
    for src, kind, tags in ((flag, "broll", ["country", "flag"]), (ding, "sfx", ["americans"])):
        made = client.post("/api/library", headers=acct.headers,
                           json={"source_id": src.id, "kind": kind, "tags": tags})  # fmt: skip
        assert made.status_code == 201, made.text
    lib = job_library(api_settings, ctx, OPTS)
    assert lib.warnings == ()
    (p,) = choose(api_settings, analysis, item, OPTS, lib=lib)
    g = p.spec.effects
    assert g is not None
    assert g.broll is not None
    assert g.sfx is not None
    assert [i.key for i in g.broll.inserts] == [flag.storage_key]
    words = [w for w in analysis.words if w.start >= p.moment.start]
    country = next(w for w in words if w.word.strip(" ,.") == "country")
    (ins,) = g.broll.inserts
    assert ins.start == pytest.approx(country.start - p.moment.start, abs=0.04)
    assert ins.start >= 2.0
    assert ins.end <= p.spec.duration - 1.0
    americans = next(w for w in words if w.word.strip(" ,.") == "Americans")
    assert [(h.key, h.gain_db) for h in g.sfx.hits] == [(ding.storage_key, -6.0)]
    assert g.sfx.hits[0].at == pytest.approx(americans.start - p.moment.start, abs=1e-3)
    # what the render reads back from the stored spec
    assert p.spec.to_json() == type(p.spec).from_json(p.spec.to_json()).to_json()
    plain = choose(api_settings, analysis, item, RunOptions(max_clips=1, min_duration=5.0,
                                                            max_duration=15.0), lib=lib)
    assert plain[0].spec.effects is None  # the library is read only when asked for


def test_with_clip_on_the_footage_is_chosen_by_its_frames(
    client, short_talk, api_settings, api_db, random_clip, tmp_path
):
    """Tags that match no spoken word; the footage's second frame holds what CLIP makes of
    the sentence, its first something else: the insert shows the second."""
    from clipray.models.embed import EmbedConfig, EmbedModel

    clip_settings = api_settings.model_copy(update=random_clip)
    acct, _, item, analysis = _talk(client, "clip-planner", short_talk, api_settings, api_db)
    stock = _source(api_db, acct, "stock", 12.0)
    other = _source(api_db, acct, "other", 12.0)
    for src in (stock, other):
        made = client.post("/api/library", headers=acct.headers,
                           json={"source_id": src.id, "kind": "broll", "tags": ["unrelated"]})
        assert made.status_code == 201, made.text
    model = EmbedModel.load(EmbedConfig(model_name=random_clip["clip_model"],
                                        pretrained=random_clip["clip_pretrained"]))  # fmt: skip
    said, elsewhere = model.embed_texts([JFK, "a bowl of soup on a kitchen table"])
    rng = np.random.default_rng(3)
    noise = rng.standard_normal((2, said.shape[0])).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    index = SearchIndex(IndexConfig(uri=str(tmp_path / "index")))
    ws = acct.workspace_id
    index.replace_source(ws, stock.id, [FrameRow(ws, stock.id, 2.0, noise[0], "t/1.jpg"),
                                        FrameRow(ws, stock.id, 8.0, said, "t/2.jpg")], None)
    index.replace_source(ws, other.id, [FrameRow(ws, other.id, 4.0, elsewhere, "t/3.jpg")],
                         None)  # fmt: skip
    assert set(index.frame_vectors(ws, [stock.id, other.id])) == {stock.id, other.id}
    times, vectors = index.frame_vectors(ws, [stock.id])[stock.id]
    assert times.tolist() == [2.0, 8.0]
    assert vectors.shape == (2, said.shape[0])
    lib = library.for_plan(clip_settings, api_db, ws, True, False, index=index)
    assert lib.encode is not None
    opts = RunOptions(max_clips=1, min_duration=5.0, max_duration=15.0, broll=True)
    (p,) = choose(clip_settings, analysis, item, opts, lib=lib)
    g = p.spec.effects
    assert g is not None
    assert g.broll is not None
    (ins,) = g.broll.inserts
    assert ins.key == stock.storage_key
    assert ins.src_start == pytest.approx(8.0 - (ins.end - ins.start) / 2, abs=1e-3)
    assert ins.start >= 2.0
    assert ins.end <= p.spec.duration - 1.0
    # without CLIP the tags decide, and they match nothing said
    keywords = library.for_plan(api_settings, api_db, ws, True, False, index=index)
    assert keywords.encode is None
    assert all(i.frame_vectors is None for i in keywords.items)
    (q,) = choose(api_settings, analysis, item, opts, lib=keywords)
    assert q.spec.effects is None or q.spec.effects.broll is None
