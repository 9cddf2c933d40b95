"""Search and highlight reels over HTTP (plain FastAPI app; real SQLite, S3, LanceDB, Ray
Data and models): the result shape, workspace scoping, visual mode without CLIP weights,
thumbnails followed to their JPEG, a reel of three moments from two sources followed to
its MP4, and the errors of each route."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import requests
from fastapi.testclient import TestClient

from clipray.cluster.services import open_index
from clipray.pipelines.highlights import make_highlight
from clipray.pipelines.index import SourceToIndex, index_sources
from clipray.pipelines.ingest import IngestContext, ingest
from clipray.serve.app import create_api
from clipray.storage.orm import GeneratedClip, GeneratedKind
from tests.apiclient import Account, register
from tests.serve.test_api import assert_error

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
HEAD = MEDIA / "talking_head" / "face_recognition" / "short_hamilton_clip.mp4"  # 640x360
# What the JFK recording says, split where he pauses (the words are the reference text).
JFK = [(0.0, 4.5, "And so my fellow Americans,"),
       (4.5, 7.8, "ask not what your country can do for you,"),
       (7.8, 11.0, "ask what you can do for your country.")]  # fmt: skip
RESULT_KEYS = {"source_id", "job_id", "start", "end", "score", "mode", "text", "thumbnail_url"}


@pytest.fixture(scope="module")
def client(api_settings, api_db):
    with TestClient(create_api(api_settings)) as c:
        yield c


def _indexed(settings, buckets, db, acct: Account, path: Path) -> str:
    """A real source of ``acct``'s workspace with the JFK words indexed over it."""
    item = ingest(IngestContext(buckets, db, acct.workspace_id), str(path))
    doc = {"transcript": {"segments": [{"start": a, "end": b, "text": t} for a, b, t in JFK]}}
    todo = SourceToIndex.of(acct.workspace_id, item.source.id, doc, None, None)
    assert index_sources(settings, [todo]) == {item.source.id: None}
    return item.source.id


@pytest.fixture(scope="module")
def world(client, api_settings, api_db, buckets, ray_local, short_talk):
    alice, bob = register(client, "search-alice"), register(client, "search-bob")
    a_talk = _indexed(api_settings, buckets, api_db, alice, short_talk)
    a_head = _indexed(api_settings, buckets, api_db, alice, HEAD)
    b_talk = _indexed(api_settings, buckets, api_db, bob, short_talk)
    return alice, bob, a_talk, a_head, b_talk


def _search(client, acct, **body):
    return client.post("/api/search", headers=acct.headers, json=body)


def test_results_have_the_documented_shape_and_stay_in_the_workspace(client, world):
    alice, bob, a_talk, a_head, b_talk = world
    resp = _search(client, alice, query="what can I do for my nation", mode="transcript")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["visual"] == "unavailable"
    assert body["results"]
    for r in body["results"]:
        assert set(r) == RESULT_KEYS
        assert r["source_id"] in {a_talk, a_head}
        assert r["mode"] == "transcript"
        assert 0 <= r["start"] < r["end"] <= 11.0
    theirs = _search(client, bob, query="what can I do for my nation").json()["results"]
    assert {r["source_id"] for r in theirs} == {b_talk}
    only = _search(client, alice, query="fellow Americans", source_id=a_head).json()
    assert {r["source_id"] for r in only["results"]} == {a_head}
    assert only["results"][0]["text"].startswith("And so my fellow Americans")


def test_scope_errors(client, world):
    alice, _, _, _, b_talk = world
    assert_error(_search(client, alice, query="country", source_id=b_talk), 403, "FORBIDDEN")
    assert_error(_search(client, alice, query="country", job_id="0" * 32), 404, "JOB_NOT_FOUND")
    assert_error(client.post("/api/search", json={"query": "country"}), 401, "UNAUTHORIZED")


def test_visual_mode_without_clip_weights_is_unavailable_not_empty(client, world):
    alice = world[0]
    assert_error(_search(client, alice, query="a stage", mode="visual"), 409,
                 "VISUAL_SEARCH_UNAVAILABLE")  # fmt: skip
    hybrid = _search(client, alice, query="your country", mode="hybrid").json()
    assert hybrid["visual"] == "unavailable"
    assert hybrid["results"]
    assert_error(_search(client, alice, query="  "), 422, "QUERY_EMPTY")
    assert _search(client, alice, query="x", mode="sideways").status_code == 422


def test_pages_do_not_repeat_moments(client, world):
    alice = world[0]
    first = _search(client, alice, query="country", limit=1, page=1).json()
    second = _search(client, alice, query="country", limit=1, page=2).json()
    assert first["pages"] == second["pages"] >= 2
    a, b = first["results"][0], second["results"][0]
    assert (a["source_id"], a["start"]) != (b["source_id"], b["start"])


def test_a_thumbnail_url_leads_to_a_jpeg_of_the_source(client, world):
    alice = world[0]
    hit = _search(client, alice, query="fellow Americans").json()["results"][0]
    resp = client.get(hit["thumbnail_url"], headers=alice.headers, follow_redirects=False)
    assert resp.status_code == 302, resp.text
    jpeg = requests.get(resp.headers["location"], timeout=30)
    assert jpeg.status_code == 200
    assert jpeg.content[:3] == b"\xff\xd8\xff"
    again = client.get(hit["thumbnail_url"], headers=alice.headers, follow_redirects=False)
    assert again.headers["location"].split("?")[0] == resp.headers["location"].split("?")[0]
    assert client.get(hit["thumbnail_url"], headers=world[1].headers).status_code == 403


def _streams(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams",
                          "-show_format", str(path)], capture_output=True, text=True,
                         check=True)  # fmt: skip
    return json.loads(out.stdout)


def test_a_reel_of_three_moments_from_two_sources(client, world, api_settings, api_db, tmp_path):
    alice, bob, a_talk, a_head, _ = world
    moments = [{"source_id": a_talk, "start": 1.0, "end": 3.5},
               {"source_id": a_head, "start": 2.0, "end": 4.0},
               {"source_id": a_talk, "start": 9.0, "end": 11.5}]  # fmt: skip
    resp = client.post("/api/highlights/export", headers=alice.headers,
                       json={"moments": moments, "title": "best of"})  # fmt: skip
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert (job["status"], job["url"]) == ("pending", None)
    assert make_highlight(api_settings, job["id"]) == "done"  # what the job runner runs
    assert make_highlight(api_settings, job["id"]) == "skipped"  # claimed once only
    done = client.get(f"/api/highlights/jobs/{job['id']}", headers=alice.headers).json()
    assert done["status"] == "succeeded", done
    reel = tmp_path / "reel.mp4"
    reel.write_bytes(requests.get(done["url"], timeout=60).content)
    info = _streams(reel)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    # two of the three parts are square: the reel is, at the tallest part's height
    assert (video["width"], video["height"]) == (480, 480)
    want = sum(m["end"] - m["start"] for m in moments)
    assert float(info["format"]["duration"]) == pytest.approx(want, abs=0.1)
    assert float(video["duration"]) == pytest.approx(float(audio["duration"]), abs=0.05)
    assert done["duration_s"] == pytest.approx(want, abs=0.1)
    with api_db.session() as s:
        gen = s.get(GeneratedClip, done["generated_clip_id"])
        assert (gen.kind, gen.title, gen.expires_at is not None) == (
            GeneratedKind.HIGHLIGHT_REEL, "best of", True)  # fmt: skip
    listed = client.get("/api/generated-clips", headers=alice.headers).json()["data"]
    assert any(g["id"] == done["generated_clip_id"] and g["kind"] == "highlight-reel"
               for g in listed)  # fmt: skip
    assert client.get(f"/api/highlights/jobs/{job['id']}", headers=bob.headers
                      ).status_code == 403  # fmt: skip


def test_reel_requests_that_cannot_be_made(client, world):
    alice, _, a_talk, _, b_talk = world
    post = lambda moments: client.post("/api/highlights/export", headers=alice.headers,  # noqa: E731
                                       json={"moments": moments})  # fmt: skip
    assert_error(post([{"source_id": b_talk, "start": 0, "end": 1}]), 404, "SOURCE_NOT_FOUND")
    assert_error(post([{"source_id": a_talk, "start": 99, "end": 100}]), 422,
                 "MOMENT_OUT_OF_RANGE")  # fmt: skip
    assert post([{"source_id": a_talk, "start": 3, "end": 2}]).status_code == 422
    assert post([]).status_code == 422
    assert_error(client.get("/api/highlights/jobs/" + "0" * 32, headers=alice.headers), 404,
                 "HIGHLIGHT_JOB_NOT_FOUND")  # fmt: skip


def test_deleting_a_source_removes_its_hits(client, world, api_settings):
    alice, _, _, a_head, _ = world
    assert client.delete(f"/api/sources/{a_head}", headers=alice.headers).status_code == 204
    hits = _search(client, alice, query="fellow Americans").json()["results"]
    assert a_head not in {r["source_id"] for r in hits}
    assert not open_index(api_settings).has_source(alice.workspace_id, a_head)
    assert_error(client.get(f"/api/sources/{a_head}", headers=alice.headers), 404,
                 "SOURCE_NOT_FOUND")  # fmt: skip
