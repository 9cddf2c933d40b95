"""Search and highlight reels over HTTP (plain FastAPI app; real SQLite, S3, LanceDB, Ray
Data and models): the result shape, workspace scoping, visual mode without CLIP weights,
moments tight around their words and bounded, text in spoken order, signed thumbnails an
``<img>`` loads without credentials, a search by an example picture (a frame of an indexed
video finds its scene; pictures that are not JPEG/PNG/WebP, broken, too large, or sent with
words are refused by code), a reel of three moments from two sources followed to its MP4,
the list of reels, and the errors of each route (a 260,000-moment reel refused at once, by
its size)."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from fastapi.testclient import TestClient

from clipray.cluster.services import open_index
from clipray.domain.analysis import Analysis
from clipray.pipelines.highlights import make_highlight
from clipray.pipelines.index import SourceToIndex, index_sources
from clipray.pipelines.ingest import IngestContext, ingest
from clipray.serve.app import create_api
from clipray.serve.deps import jwt_secret
from clipray.services.search import ThumbnailLinks
from clipray.storage.generated import GeneratedRepo
from clipray.storage.orm import GeneratedClip, GeneratedKind, HighlightReel, Job, JobStatus
from tests.apiclient import Account, register
from tests.frames import frames_indexed
from tests.serve.test_api import assert_error

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
HEAD = MEDIA / "talking_head" / "face_recognition" / "short_hamilton_clip.mp4"  # 640x360
SCENES = MEDIA / "scene_cuts" / "pyscenedetect" / "testvideo.mp4"  # 1280x720, 24 s
# Its scenes start at frames 30, 180 and 394 of 29.97 fps (the media's ground truth).
SCENE_SPANS = [(30 / 29.97, 180 / 29.97), (180 / 29.97, 394 / 29.97), (394 / 29.97, 24.0)]
# What the JFK recording says, split where he pauses (the words are the reference text).
JFK = [(0.0, 4.5, "And so my fellow Americans,"),
       (4.5, 7.8, "ask not what your country can do for you,"),
       (7.8, 11.0, "ask what you can do for your country.")]  # fmt: skip
RESULT_KEYS = {"source_id", "job_id", "start", "end", "score", "mode", "text", "thumbnail_url"}


def _indexed(settings, buckets, db, acct: Account, path: Path) -> str:
    """A real source of ``acct``'s workspace with the JFK words indexed over it."""
    item = ingest(IngestContext(buckets, db, acct.workspace_id), str(path))
    doc = {"transcript": {"segments": [{"start": a, "end": b, "text": t} for a, b, t in JFK]}}
    todo = SourceToIndex.of(acct.workspace_id, item.source.id, Analysis.from_json(doc),
                            None, None)  # fmt: skip
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


def _job(db, acct: Account, source_id: str | None) -> str:
    """A job of ``acct``'s workspace about ``source_id`` (None: before it stored its video)."""
    with db.session() as s:
        job = Job(workspace_id=acct.workspace_id, source_id=source_id, kind="clip",
                  status=JobStatus.CANCELLED)  # fmt: skip
        s.add(job)
        s.flush()
        return job.id


def test_scope_errors(client, world, api_db):
    alice, _, a_talk, a_head, b_talk = world
    assert_error(_search(client, alice, query="country", source_id=b_talk), 403, "FORBIDDEN")
    assert_error(_search(client, alice, query="country", job_id="0" * 32), 404, "JOB_NOT_FOUND")
    assert_error(client.post("/api/search", json={"query": "country"}), 401, "UNAUTHORIZED")
    unstored = _job(api_db, alice, None)
    assert_error(_search(client, alice, query="country", job_id=unstored), 409,
                 "JOB_HAS_NO_SOURCE")  # fmt: skip
    about_talk = _job(api_db, alice, a_talk)
    assert_error(_search(client, alice, query="country", job_id=about_talk, source_id=a_head),
                 409, "SEARCH_SCOPE_CONFLICT")  # fmt: skip
    scoped = _search(client, alice, query="country", job_id=about_talk).json()["results"]
    assert scoped
    assert {(r["source_id"], r["job_id"]) for r in scoped} == {(a_talk, about_talk)}


def test_a_one_word_query_gives_a_moment_tight_around_its_sentence(client, world):
    """"Americans" is said once, in the first sentence; every other sentence is only a
    sentence-embedding neighbour, and must not stretch the moment over the talk."""
    alice, _, a_talk, _, _ = world
    top = _search(client, alice, query="Americans", source_id=a_talk).json()["results"][0]
    assert (top["start"], top["end"]) == (0.0, 4.5)
    assert top["text"] == "And so my fellow Americans,"


def test_a_moments_text_is_in_spoken_order(client, world):
    alice, _, a_talk, _, _ = world
    order = [t for _, _, t in JFK]
    results = _search(client, alice, query="ask what you can do for your country",
                      source_id=a_talk, mode="transcript", limit=100).json()["results"]  # fmt: skip
    assert any(sum(t in r["text"] for t in order) > 1 for r in results), results
    for r in results:
        said = [t for t in order if t in r["text"]]
        assert r["text"] == " ".join(said), r  # every sentence of it, once, in spoken order


def test_no_moment_is_longer_than_the_configured_bound(api_settings, world):
    alice, _, a_talk, _, _ = world
    bounded = api_settings.model_copy(update={"search_moment_max_s": 3.0})
    with TestClient(create_api(bounded)) as short:
        for query in ("country", "what can I do for my nation", "Americans"):
            results = _search(short, alice, query=query, source_id=a_talk).json()["results"]
            assert results, query
            assert all(r["end"] - r["start"] <= 3.0 + 1e-3 for r in results), results


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


def _jpeg(url: str) -> bytes:
    jpeg = requests.get(url, timeout=30)
    assert jpeg.status_code == 200
    assert jpeg.content[:3] == b"\xff\xd8\xff"
    return jpeg.content


def test_a_thumbnail_url_loads_without_credentials(client, world):
    """What an ``<img src>`` does: GET the result's link with no Authorization header."""
    alice, bob = world[0], world[1]
    hit = _search(client, alice, query="fellow Americans").json()["results"][0]
    link = hit["thumbnail_url"]
    assert link.startswith("/api/search/thumbnails/")
    resp = client.get(link, follow_redirects=False)
    assert resp.status_code == 302, resp.text
    assert "authorization" not in {k.lower() for k in resp.request.headers}
    _jpeg(resp.headers["location"])
    again = client.get(link, follow_redirects=False)
    assert again.headers["location"].split("?")[0] == resp.headers["location"].split("?")[0]
    # the authenticated route gives the same frame to members, and refuses others
    t = parse_qs(urlsplit(link).query)["t"][0]
    plain = f"/api/sources/{hit['source_id']}/thumbnail?t={t}"
    authed = client.get(plain, headers=alice.headers, follow_redirects=False)
    assert authed.status_code == 302
    assert authed.headers["location"].split("?")[0] == resp.headers["location"].split("?")[0]
    assert_error(client.get(plain, headers=bob.headers), 403, "FORBIDDEN")
    assert_error(client.get(plain), 401, "UNAUTHORIZED")


def test_a_thumbnail_link_is_only_good_for_its_frame_until_it_expires(client, world,
                                                                      api_settings):  # fmt: skip
    alice, _, a_talk, a_head, _ = world
    link = _search(client, alice, query="fellow Americans",
                   source_id=a_talk).json()["results"][0]["thumbnail_url"]  # fmt: skip
    q = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    base = f"/api/search/thumbnails/{a_talk}"
    forged = {**q, "sig": q["sig"][:-1] + ("0" if q["sig"][-1] != "0" else "1")}
    assert_error(client.get(base, params=forged), 403, "THUMBNAIL_LINK_INVALID")
    for odd in ("é" * 64, "", "0" * 128, "\u202e" + q["sig"]):  # what fuzzers send: no 500
        assert_error(client.get(base, params={**q, "sig": odd}), 403, "THUMBNAIL_LINK_INVALID")
    moved = {**q, "t": "3.000"}
    assert_error(client.get(base, params=moved), 403, "THUMBNAIL_LINK_INVALID")
    other = client.get(f"/api/search/thumbnails/{a_head}", params=q)
    assert_error(other, 403, "THUMBNAIL_LINK_INVALID")
    later = {**q, "exp": str(int(q["exp"]) + 3600)}
    assert_error(client.get(base, params=later), 403, "THUMBNAIL_LINK_INVALID")
    links = ThumbnailLinks(jwt_secret(api_settings), ttl_s=60, step_s=1)
    old = links.url(a_talk, 1.0, now=time.time() - 120)  # signed two minutes ago
    assert_error(client.get(old), 403, "THUMBNAIL_LINK_EXPIRED")
    fresh = client.get(links.url(a_talk, 1.0), follow_redirects=False)
    assert fresh.status_code == 302
    _jpeg(fresh.headers["location"])
    assert_error(client.get(links.url("0" * 32, 1.0)), 404, "SOURCE_NOT_FOUND")


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
    got = requests.get(done["url"], timeout=60)
    assert got.headers["content-disposition"].startswith('attachment; filename="best of.mp4"')
    reel.write_bytes(got.content)
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
    reels = client.get("/api/highlights", headers=alice.headers).json()
    assert set(reels) == {"data", "total", "page", "pages"}
    newest = reels["data"][0]  # as GET /jobs/{id} shows it (but for a fresh presigned URL)
    assert {**newest, "url": None} == {**done, "url": None}
    assert newest["url"].split("?")[0] == done["url"].split("?")[0]
    assert client.get("/api/highlights", headers=bob.headers).json()["total"] == 0


def test_the_list_of_reels_is_paginated_newest_first(client, world):
    alice, _, a_talk, _, _ = world
    made = []
    for i in range(3):
        resp = client.post("/api/highlights/export", headers=alice.headers,
                           json={"moments": [{"source_id": a_talk, "start": i, "end": i + 1}],
                                 "title": f"page {i}"})  # fmt: skip
        assert resp.status_code == 202, resp.text
        made.append(resp.json()["id"])
    first = client.get("/api/highlights", headers=alice.headers, params={"limit": 2}).json()
    total = first["total"]
    assert total >= 3
    assert (first["page"], first["pages"]) == (1, -(-total // 2))
    assert [r["id"] for r in first["data"]] == made[::-1][:2]
    second = client.get("/api/highlights", headers=alice.headers,
                        params={"limit": 2, "page": 2}).json()  # fmt: skip
    assert second["data"][0]["id"] == made[0]
    assert client.get("/api/highlights", headers=alice.headers,
                      params={"limit": 101}).status_code == 422  # fmt: skip


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
    # the number of parts is checked before anything is looked up: unknown sources or not
    many = [{"source_id": "0" * 32, "start": 0, "end": 1}] * 51
    assert_error(post(many), 422, "REEL_TOO_MANY_PARTS")
    assert_error(post([{"source_id": a_talk, "start": 0, "end": 15}] * 50), 422,
                 "REEL_TOO_LONG")  # fmt: skip


def test_a_reel_without_room_for_a_generated_clip_is_refused_before_any_work(
    api_settings, api_db, world
):
    alice, _, a_talk, _, _ = world
    body = {"moments": [{"source_id": a_talk, "start": 0, "end": 1}]}
    with api_db.session() as s:
        live = GeneratedRepo(s, alice.workspace_id).live_count()
        before = s.query(HighlightReel).count()
    capped = api_settings.model_copy(update={"generated_clips_max_live": live})
    with TestClient(create_api(capped)) as c:
        err = assert_error(c.post("/api/highlights/export", headers=alice.headers, json=body),
                           409, "GENERATED_CLIP_LIMIT")  # fmt: skip
        assert f"has {live} live generated clips" in err["message"]
    unset = api_settings.model_copy(update={"generated_bucket": ""})
    with TestClient(create_api(unset)) as c:
        assert_error(c.post("/api/highlights/export", headers=alice.headers, json=body), 503,
                     "GENERATED_STORAGE_UNAVAILABLE")  # fmt: skip
    with api_db.session() as s:
        assert s.query(HighlightReel).count() == before


def test_a_huge_reel_request_is_refused_at_once_by_its_size(client, world, api_db):
    """260,000 moments (18 MiB of JSON) used to end in a 500 from the database (too many
    SQL variables in one query), after seconds of work; now the body's size refuses it
    unread (413), and a list past the bound that fits the body is refused by its length
    (422), its items unread; nothing is looked up either way."""
    alice, _, a_talk, _, _ = world
    moment = {"source_id": a_talk, "start": 1.0, "end": 2.0}
    with api_db.session() as s:
        before = s.query(HighlightReel).count()
    huge = json.dumps({"moments": [moment] * 260_000}).encode()
    assert len(huge) > 16 * 2**20
    started = time.monotonic()
    resp = client.post("/api/highlights/export", content=huge,
                       headers={**alice.headers, "Content-Type": "application/json"})  # fmt: skip
    took = time.monotonic() - started
    assert_error(resp, 413, "PAYLOAD_TOO_LARGE")
    assert took < 3.0, f"{took:.1f} s to refuse"
    for n in (501, 12_000):  # just past the bound, and as many as fit in the body limit
        started = time.monotonic()
        err = assert_error(post_raw(client, alice, [moment] * n), 422, "VALIDATION_ERROR")
        assert err["detail"][0]["type"] == "too_long"
        assert time.monotonic() - started < 2.0
    with api_db.session() as s:
        assert s.query(HighlightReel).count() == before  # nothing half-written


def post_raw(client, acct, moments):
    return client.post("/api/highlights/export", headers=acct.headers,
                       json={"moments": moments})  # fmt: skip


# --- search by an example picture ---------------------------------------------------------
@pytest.fixture(scope="module")
def clip_settings(api_settings, random_clip):
    """The API's settings with CLIP on (a random ViT-S-32: see ``random_clip``)."""
    return api_settings.model_copy(update=random_clip)


@pytest.fixture(scope="module")
def pictures(client, clip_settings, api_db, buckets, ray_local):
    """Two workspaces with the same video's frames indexed, and a client with CLIP on."""
    carol, dan = register(client, "picture-carol"), register(client, "picture-dan")
    c_scenes = frames_indexed(clip_settings, buckets, api_db, carol.workspace_id, SCENES)
    d_scenes = frames_indexed(clip_settings, buckets, api_db, dan.workspace_id, SCENES)
    with TestClient(create_api(clip_settings)) as with_clip:
        yield with_clip, carol, dan, c_scenes, d_scenes


def _still(at: float, tmp_path: Path) -> bytes:
    """The video's frame at ``at`` as a full-size JPEG, as a user would screenshot it."""
    out = tmp_path / f"still-{at}.jpg"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", f"{at}", "-i",
                    str(SCENES), "-frames:v", "1", "-q:v", "3", str(out)], check=True)  # fmt: skip
    return out.read_bytes()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_a_frame_finds_its_own_scene(pictures, tmp_path):
    with_clip, carol, _, c_scenes, _ = pictures
    for lo, hi in SCENE_SPANS:
        at = round((lo + hi) / 2 * 2) / 2  # a sampled frame's time
        resp = _search(with_clip, carol, image=_b64(_still(at, tmp_path)), limit=3)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["visual"] == "available"
        top = body["results"][0]
        assert set(top) == RESULT_KEYS
        assert (top["source_id"], top["mode"]) == (c_scenes, "visual")
        assert top["score"] > 0.95, top  # its own frame, through the same network
        assert top["start"] - 0.5 <= at <= top["end"] + 0.5, (at, top)
        inside = min(top["end"], hi) - max(top["start"], lo)  # neighbouring hits merge in
        assert inside > (top["end"] - top["start"]) / 2, (lo, hi, top)  # mostly its scene
        assert top["thumbnail_url"].startswith(f"/api/search/thumbnails/{c_scenes}?")
    from PIL import Image

    # the same frame as a PNG and as a WebP finds the same moment
    im = Image.open(io.BytesIO(_still(12.0, tmp_path)))
    tops = set()
    for fmt in ("PNG", "WEBP"):
        buf = io.BytesIO()
        im.save(buf, format=fmt)
        hit = _search(with_clip, carol, image=_b64(buf.getvalue()), mode="visual").json()
        tops.add((hit["results"][0]["source_id"], hit["results"][0]["start"]))
    assert len(tops) == 1


def test_a_picture_stays_in_the_workspace(pictures, tmp_path):
    with_clip, carol, dan, c_scenes, d_scenes = pictures
    image = _b64(_still(9.0, tmp_path))
    theirs = _search(with_clip, dan, image=image, limit=100).json()["results"]
    assert theirs
    assert {r["source_id"] for r in theirs} == {d_scenes}
    mine = _search(with_clip, carol, image=image, limit=100).json()["results"]
    assert {r["source_id"] for r in mine} == {c_scenes}
    assert_error(_search(with_clip, dan, image=image, source_id=c_scenes), 403, "FORBIDDEN")
    assert_error(with_clip.post("/api/search", json={"image": image}), 401, "UNAUTHORIZED")


def test_pictures_that_cannot_be_searched_are_refused_by_code(client, pictures, tmp_path):
    with_clip, carol = pictures[0], pictures[1]
    jpeg = _still(3.0, tmp_path)
    image = _b64(jpeg)
    for c in (client, with_clip):
        assert_error(_search(c, carol, query="a stage", image=image), 422,
                     "QUERY_TEXT_AND_IMAGE")  # fmt: skip
        assert_error(_search(c, carol, image=image, mode="hybrid"), 422,
                     "IMAGE_QUERY_NOT_VISUAL")  # fmt: skip
        assert_error(_search(c, carol), 422, "QUERY_EMPTY")
        assert_error(_search(c, carol, image=_b64(b"not a picture at all")), 415,
                     "IMAGE_TYPE_UNSUPPORTED")  # fmt: skip
        assert_error(_search(c, carol, image=_b64(b"GIF89a" + jpeg[3:])), 415,
                     "IMAGE_TYPE_UNSUPPORTED")  # fmt: skip
        assert_error(_search(c, carol, image=_b64(jpeg[: len(jpeg) // 3])), 422,
                     "IMAGE_UNREADABLE")  # fmt: skip
        assert_error(_search(c, carol, image=""), 422, "IMAGE_EMPTY")
        err = assert_error(_search(c, carol, image="%%% not base64"), 422, "VALIDATION_ERROR")
        assert err["detail"][0]["loc"] == ["body", "image"]
    # a picture is checked before CLIP is asked for: without weights the answer is 409
    assert_error(_search(client, carol, image=image), 409, "VISUAL_SEARCH_UNAVAILABLE")


def test_a_picture_too_large_is_refused_by_bytes_or_by_pixels(client, pictures, api_settings):
    from PIL import Image

    carol = pictures[1]
    limit = api_settings.max_request_bytes
    big = b"\xff\xd8\xff" + bytes(limit)  # over the body limit once in base64
    err = assert_error(_search(client, carol, image=_b64(big)), 413, "PAYLOAD_TOO_LARGE")
    assert err["detail"] == {"limit": limit}
    buf = io.BytesIO()
    Image.new("1", (8000, 8000)).save(buf, format="PNG")  # 64 MP in a few kilobytes
    assert len(buf.getvalue()) < limit
    err = assert_error(_search(client, carol, image=_b64(buf.getvalue())), 413,
                       "IMAGE_TOO_LARGE")  # fmt: skip
    assert (err["detail"]["width"], err["detail"]["height"]) == (8000, 8000)


def test_the_openapi_schema_describes_the_picture(client):
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/api/search"]["post"]
    assert {"409", "413", "415"} <= set(op["responses"])
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    body = spec["components"]["schemas"][ref]
    assert body["properties"]["image"]["anyOf"][0]["contentEncoding"] == "base64"
    assert "query" not in body.get("required", [])


def test_deleting_a_source_removes_its_hits(client, world, api_settings):
    alice, _, _, a_head, _ = world
    assert client.delete(f"/api/sources/{a_head}", headers=alice.headers).status_code == 204
    hits = _search(client, alice, query="fellow Americans").json()["results"]
    assert a_head not in {r["source_id"] for r in hits}
    assert not open_index(api_settings).has_source(alice.workspace_id, a_head)
    assert_error(client.get(f"/api/sources/{a_head}", headers=alice.headers), 404,
                 "SOURCE_NOT_FOUND")  # fmt: skip
