"""Transcripts over HTTP, from a real analysis (faster-whisper on the JFK speech, stored on
the real S3 server): segments and words as JSON, the same as SubRip and WebVTT that FFmpeg
parses back, for a source and for a job's source; 404/409 when there is none."""

from __future__ import annotations

import difflib

import pytest

from clipray.pipelines.analyze import analyze_config
from clipray.pipelines.ingest import IngestContext, ingest
from clipray.pipelines.runner import AnalysisRunner
from clipray.storage.orm import Analysis
from tests.apiclient import register
from tests.clips.test_subtitles import parse_back
from tests.serve.test_api import assert_error
from tests.serve.test_search_api import _job
from tests.storage.test_ranking import JFK

WORDS = "And so my fellow Americans, ask not what your country can do for you, ask what you " \
        "can do for your country."  # fmt: skip


@pytest.fixture(scope="module")
def world(client, api_settings, api_db, buckets, ray_local, short_talk):
    """Alice's source analysed for real, a second one not analysed yet, and Bob."""
    alice, bob = register(client, "tr-alice"), register(client, "tr-bob")
    ctx = IngestContext(buckets, api_db, alice.workspace_id)
    item = ingest(ctx, str(short_talk))
    (outcome,) = AnalysisRunner(api_settings, ctx, analyze_config(api_settings),
                                log_to_driver=False, ray_progress=False
                                ).run([(item, short_talk)])  # fmt: skip
    assert outcome.error is None, outcome.error
    fresh = ingest(IngestContext(buckets, api_db, bob.workspace_id), str(short_talk))
    return alice, bob, item.source.id, fresh.source.id


def _norm(text: str) -> list[str]:
    return "".join(c for c in text.lower() if c.isalpha() or c.isspace()).split()


def test_a_sources_transcript_has_its_words_in_spoken_order(client, world):
    alice, _, source_id, _ = world
    resp = client.get(f"/api/sources/{source_id}/transcript", headers=alice.headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["source_id"], body["language"]) == (source_id, "en")
    segs = body["segments"]
    assert segs
    spoken = _norm(" ".join(s["text"] for s in segs))
    match = difflib.SequenceMatcher(a=_norm(WORDS), b=spoken).ratio()
    assert match >= 0.9, spoken  # what JFK said, in order (1.0 on the reference models)
    starts = [s["start"] for s in segs]
    assert starts == sorted(starts)
    for s in segs:
        assert 0 <= s["start"] < s["end"] <= 16.0
        assert s["words"]
        assert "".join(w["word"] for w in s["words"]).strip() == s["text"]
        assert all(s["start"] - 0.05 <= w["start"] <= w["end"] <= s["end"] + 0.05
                   for w in s["words"])  # fmt: skip
    # the first words fall where the reference says the first sentence is (within 1 s)
    first = next(w for s in segs for w in s["words"] if "americans" in w["word"].lower())
    assert JFK[0][0] <= first["start"] <= JFK[0][1] + 1.0


@pytest.mark.parametrize(("fmt", "media_type", "suffix"),
                         [("srt", "application/x-subrip", ".srt"), ("vtt", "text/vtt", ".vtt")])
def test_subtitles_parse_back_to_the_segments(client, world, tmp_path, fmt, media_type, suffix):
    alice, _, source_id, _ = world
    segs = client.get(f"/api/sources/{source_id}/transcript",
                      headers=alice.headers).json()["segments"]  # fmt: skip
    resp = client.get(f"/api/sources/{source_id}/transcript", params={"format": fmt},
                      headers=alice.headers)  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith(media_type)
    cues = parse_back(resp.text, suffix, tmp_path)
    assert len(cues) == len(segs)
    for (start, end, text), seg in zip(cues, segs, strict=True):
        assert start == pytest.approx(seg["start"], abs=0.011)
        assert end == pytest.approx(seg["end"], abs=0.011)
        assert _norm(text) == _norm(seg["text"])


def test_a_jobs_transcript_is_its_sources(client, world, api_db):
    alice, _, source_id, _ = world
    job = _job(api_db, alice, source_id)
    by_job = client.get(f"/api/jobs/{job}/transcript", headers=alice.headers)
    by_source = client.get(f"/api/sources/{source_id}/transcript", headers=alice.headers)
    assert by_job.status_code == 200, by_job.text
    assert by_job.json() == by_source.json()
    vtt = client.get(f"/api/jobs/{job}/transcript?format=vtt", headers=alice.headers)
    assert vtt.text.startswith("WEBVTT\n\n")


def test_no_transcript_is_a_clear_error(client, world, api_db):
    alice, bob, source_id, fresh = world
    assert_error(client.get(f"/api/sources/{fresh}/transcript", headers=bob.headers), 409,
                 "TRANSCRIPT_NOT_READY")  # fmt: skip
    assert_error(client.get(f"/api/jobs/{_job(api_db, alice, None)}/transcript",
                            headers=alice.headers), 409, "JOB_HAS_NO_SOURCE")  # fmt: skip
    assert_error(client.get(f"/api/sources/{'0' * 32}/transcript", headers=alice.headers), 404,
                 "SOURCE_NOT_FOUND")  # fmt: skip
    assert_error(client.get(f"/api/jobs/{'0' * 32}/transcript", headers=alice.headers), 404,
                 "JOB_NOT_FOUND")  # fmt: skip
    assert_error(client.get(f"/api/sources/{source_id}/transcript", headers=bob.headers), 403,
                 "FORBIDDEN")  # fmt: skip
    assert_error(client.get(f"/api/sources/{source_id}/transcript"), 401, "UNAUTHORIZED")
    assert client.get(f"/api/sources/{source_id}/transcript?format=docx",
                      headers=alice.headers).status_code == 422  # fmt: skip


def test_a_lost_analysis_document_is_as_if_never_analysed(client, world, api_db, buckets):
    alice, _, source_id, _ = world
    with api_db.session() as s:
        row = s.query(Analysis).filter_by(source_id=source_id).one()
        key = row.artifact_key
    store = buckets.media.scoped(alice.workspace_id)
    saved = store.read_bytes(key)
    store.delete(key)
    try:
        assert_error(client.get(f"/api/sources/{source_id}/transcript", headers=alice.headers),
                     409, "TRANSCRIPT_NOT_READY")  # fmt: skip
    finally:
        store.put_bytes(key, saved, content_type="application/json")
    assert client.get(f"/api/sources/{source_id}/transcript",
                      headers=alice.headers).status_code == 200  # fmt: skip
