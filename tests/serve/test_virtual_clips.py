"""Virtual clips over HTTP (plain FastAPI app, real SQLite, real S3, real FFmpeg): the
cover, cut operations with their 409s and undo, the audit trail, review and groups, and an
approved clip exported by stream copy from the proxy and downloaded through its URL.

The export runs here as the plain function the job runner's Ray task calls (no runner in
this module); tests/serve/test_serve_e2e.py has the runner do it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from clipray.clips.cuts import VClip, validate
from clipray.pipelines.export import export_clip
from clipray.storage.orm import ClipExport, ProxyStatus, Source
from clipray.storage.vclips import CoverRepo
from tests.apiclient import Account, register, upload, upload_with_cover
from tests.conftest import at_once
from tests.serve.test_api import assert_error

FRAMES, RATE, CUT = 400, "25/1", 200
"""short_talk: 16 s at 25 fps, a scene cut at 8 s."""


@pytest.fixture(scope="module")
def alice(client) -> Account:
    return register(client, "alice")


@pytest.fixture(scope="module")
def source_id(client, alice, short_talk, api_db) -> str:
    return upload_with_cover(client, alice, short_talk, api_db, FRAMES, RATE, [CUT])


def _cover(client, acct, sid) -> dict:
    resp = client.get(f"/api/sources/{sid}/clips", headers=acct.headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    clips = [VClip(c["id"], c["start_frame"], c["end_frame"]) for c in body["clips"]]
    assert validate(clips, body["frame_count"]) is None
    return body


def _cuts(client, acct, sid) -> tuple[list[int], int]:
    body = client.get(f"/api/sources/{sid}/cuts", headers=acct.headers).json()
    return body["cuts"], body["version"]


def test_the_cover_is_the_scene_clips_in_frames_and_seconds(client, alice, source_id):
    body = _cover(client, alice, source_id)
    assert (body["frame_count"], body["frame_rate"]) == (FRAMES, RATE)
    assert [(c["start_frame"], c["end_frame"], c["start"], c["end"]) for c in body["clips"]] == [
        (0, CUT, 0.0, 8.0), (CUT, FRAMES, 8.0, 16.0)]  # fmt: skip
    assert {c["review"] for c in body["clips"]} == {"pending_review"}
    src = client.get(f"/api/sources/{source_id}", headers=alice.headers).json()
    assert src["proxy_status"] == "none"  # built when the first clip is approved
    assert src["frame_count"] == FRAMES


def test_add_move_remove_undo_and_the_audit_trail(client, alice, source_id):
    h = alice.headers
    cuts, v = _cuts(client, alice, source_id)
    add = client.post(
        f"/api/sources/{source_id}/cuts", headers=h, json={"frame": 100, "version": v}
    )
    assert add.status_code == 201, add.text
    assert [(c["start_frame"], c["end_frame"]) for c in add.json()["clips"]] == [
        (0, 100),
        (100, 200),
    ]
    assert add.json()["edit"]["cuts_after"] == sorted([*cuts, 100])
    move = client.patch(f"/api/sources/{source_id}/cuts/100", headers=h,
                        json={"to": 120, "version": v + 1})  # fmt: skip
    assert move.status_code == 200, move.text
    rm = client.delete(f"/api/sources/{source_id}/cuts/120?version={v + 2}", headers=h)
    assert rm.status_code == 200, rm.text
    assert _cuts(client, alice, source_id) == (cuts, v + 3)
    for _ in range(3):
        undo = client.post(f"/api/sources/{source_id}/cuts/undo", headers=h, json={})
        assert undo.status_code == 200, undo.text
        _cover(client, alice, source_id)
    assert _cuts(client, alice, source_id) == (cuts, v + 6)
    assert_error(client.post(f"/api/sources/{source_id}/cuts/undo", headers=h, json={}),
                 409, "NOTHING_TO_UNDO")  # fmt: skip
    history = client.get(f"/api/sources/{source_id}/cuts/history?limit=6", headers=h).json()
    assert [e["op"] for e in history["data"]] == ["undo", "undo", "undo", "remove", "move", "add"]
    assert all(e["user_id"] == alice.id for e in history["data"])
    assert history["data"][-1]["frame"] == 100
    assert history["data"][-2]["to"] == 120


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        pytest.param("post", "cuts", {"frame": CUT}, 422, "CUT_EXISTS", id="add-existing"),
        pytest.param("post", "cuts", {"frame": FRAMES}, 422, "CUT_OUT_OF_RANGE", id="add-past-end"),
        pytest.param("post", "cuts", {"frame": -1}, 422, "VALIDATION_ERROR", id="add-negative"),
        pytest.param("patch", f"cuts/{CUT}", {"to": 0}, 422, "CUT_WOULD_CROSS", id="move-to-0"),
        pytest.param("patch", "cuts/7", {"to": 9}, 422, "CUT_NOT_FOUND", id="move-missing"),
        pytest.param("delete", "cuts/7", None, 422, "CUT_NOT_FOUND", id="remove-missing"),
        pytest.param("post", "cuts", {"frame": 10, "version": 10**6}, 409,
                     "CUT_VERSION_CONFLICT", id="stale-version"),
    ],
)  # fmt: skip
def test_bad_operations_get_a_code_and_change_nothing(client, alice, source_id, method, path,
                                                      body, status, code):  # fmt: skip
    before = _cuts(client, alice, source_id)
    kwargs = {"json": body} if body is not None else {}
    resp = getattr(client, method)(f"/api/sources/{source_id}/{path}", headers=alice.headers,
                                   **kwargs)  # fmt: skip
    assert_error(resp, status, code)
    assert _cuts(client, alice, source_id) == before


def test_two_concurrent_moves_of_one_cut_one_wins_the_other_gets_409(client, alice, source_id):
    cuts, v = _cuts(client, alice, source_id)

    def move(to: int) -> int:
        resp = client.patch(f"/api/sources/{source_id}/cuts/{CUT}", headers=alice.headers,
                            json={"to": to, "version": v})  # fmt: skip
        if resp.status_code == 409:
            assert resp.json()["error"]["code"] == "CUT_VERSION_CONFLICT"
        return resp.status_code

    results = at_once(lambda: move(CUT - 10), lambda: move(CUT + 10), timeout=30)
    assert sorted(results) == [200, 409]
    after, version = _cuts(client, alice, source_id)
    assert version == v + 1
    assert after[0] in (CUT - 10, CUT + 10)
    _cover(client, alice, source_id)
    assert client.post(f"/api/sources/{source_id}/cuts/undo", headers=alice.headers,
                       json={"version": version}).status_code == 200  # fmt: skip
    assert _cuts(client, alice, source_id) == (cuts, v + 2)


def test_review_groups_and_scoping(client, alice, source_id):
    h = alice.headers
    clip = _cover(client, alice, source_id)["clips"][1]
    url = f"/api/sources/{source_id}/clips/{clip['id']}"
    group = client.post(f"/api/sources/{source_id}/groups", headers=h,
                        json={"name": "intro", "title": "Intro", "hashtags": ["talk"]})  # fmt: skip
    assert group.status_code == 201, group.text
    resp = client.patch(url, headers=h, json={"review": "skipped", "title": "Second half",
                                              "group_id": group.json()["id"]})  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert (resp.json()["review"], resp.json()["title"]) == ("skipped", "Second half")
    assert resp.json()["export"] is None
    groups = client.get(f"/api/sources/{source_id}/groups", headers=h).json()
    assert groups[0]["clips"] == [clip["id"]]
    skipped = client.get(f"/api/sources/{source_id}/clips?review=skipped", headers=h).json()
    assert [c["id"] for c in skipped["clips"]] == [clip["id"]]
    assert_error(client.patch(url, headers=h, json={"review": "maybe"}), 422, "VALIDATION_ERROR")
    assert_error(client.patch(url, headers=h, json={"group_id": "f" * 32}), 404,
                 "GROUP_NOT_FOUND")  # fmt: skip
    bob = register(client, "bob")
    assert_error(client.get(f"/api/sources/{source_id}/clips", headers=bob.headers), 403,
                 "FORBIDDEN")  # fmt: skip
    assert_error(client.post(f"/api/sources/{source_id}/cuts", headers=bob.headers,
                             json={"frame": 5}), 403, "FORBIDDEN")  # fmt: skip
    assert_error(client.get(f"/api/sources/{'0' * 32}/cuts", headers=h), 404, "SOURCE_NOT_FOUND")
    assert client.get(f"/api/sources/{source_id}/clips").status_code == 401


def test_a_source_without_analysis_has_no_clips_yet(client, short_talk):
    carol = register(client, "carol")
    sid = upload(client, carol, short_talk).json()["source_id"]
    listed = client.get("/api/sources", headers=carol.headers).json()
    assert [(s["id"], s["frame_count"], s["proxy_status"]) for s in listed["data"]] == [
        (sid, None, "none")]  # fmt: skip
    assert_error(client.get(f"/api/sources/{sid}/clips", headers=carol.headers), 409,
                 "CLIPS_NOT_READY")  # fmt: skip
    assert_error(client.post(f"/api/sources/{sid}/cuts", headers=carol.headers,
                             json={"frame": 5}), 409, "CLIPS_NOT_READY")  # fmt: skip


def _frames(path: Path) -> tuple[int, float, float]:
    """Decoded video frames, video and audio stream durations (seconds)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
         "stream=codec_type,nb_read_frames,duration", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    streams = {s["codec_type"]: s for s in json.loads(out)["streams"]}
    return (int(streams["video"]["nb_read_frames"]), float(streams["video"]["duration"]),
            float(streams["audio"]["duration"]))  # fmt: skip


def test_an_approved_clip_is_exported_by_stream_copy_and_downloads(
    client, alice, source_id, api_settings, api_db, tmp_path
):
    h = alice.headers
    v = _cuts(client, alice, source_id)[1]
    resp = client.post(
        f"/api/sources/{source_id}/cuts", headers=h, json={"frame": 37, "version": v}
    )
    clip = next(c for c in resp.json()["clips"] if c["start_frame"] == 37)
    url = f"/api/sources/{source_id}/clips/{clip['id']}"
    assert_error(client.get(f"{url}/download", headers=h, follow_redirects=False), 409,
                 "EXPORT_NOT_READY")  # fmt: skip
    approved = client.patch(url, headers=h, json={"review": "approved"}).json()
    assert approved["export"]["status"] == "pending"
    with api_db.session() as s:
        export_id = s.scalar(select(ClipExport.id).where(ClipExport.clip_id == clip["id"]))

    done = export_clip(api_settings, export_id)  # what the runner's Ray task runs
    assert done is not None
    assert done["method"] == "copy"
    assert export_clip(api_settings, export_id) is None  # done already: nothing to claim
    with api_db.session() as s:
        assert s.get(Source, source_id).proxy_status is ProxyStatus.READY

    body = client.get(url, headers=h).json()
    frames = clip["end_frame"] - clip["start_frame"]
    assert body["export"]["status"] == "done"
    assert body["export"]["method"] == "copy"
    assert body["export"]["frames"] == frames
    redirect = client.get(f"{url}/download", headers=h, follow_redirects=False)
    assert redirect.status_code == 302
    got = requests.get(redirect.headers["location"], timeout=30)
    assert got.status_code == 200
    path = tmp_path / "clip.mp4"
    path.write_bytes(got.content)
    n, video_s, audio_s = _frames(path)
    assert n == frames
    assert video_s == pytest.approx(frames / 25, abs=1e-3)
    assert audio_s == pytest.approx(video_s, abs=0.05)


def test_a_source_is_deleted_with_its_files_unless_a_job_works_on_it(
    client, short_talk, api_db, buckets
):
    """409 ``SOURCE_BUSY`` while a job works on the source, and nothing is gone; once the
    job ended, the video, the exports of its clips and the row go; 403 for another
    workspace, 404 afterwards."""
    from clipray.storage.keys import object_key
    from clipray.storage.orm import Job, JobStatus
    from clipray.storage.repos import JobRepo

    dave = register(client, "dave")
    ws = dave.workspace_id
    sid = upload(client, dave, short_talk).json()["source_id"]
    with api_db.session() as s:
        source = s.get(Source, sid)
        CoverRepo(s, ws).create_cover(source, FRAMES, RATE, [CUT])
        video_key = source.storage_key
        job_id = JobRepo(s, ws).create("main", source_id=sid, created_by=dave.id).id
        clip_id = CoverRepo(s, ws).live(sid)[0].id
    media = buckets.media.scoped(ws)
    export_key = object_key(ws, "exports", clip_id, "clip.mp4")
    media.put_bytes(export_key, b"\0" * 64, "video/mp4")
    url = f"/api/sources/{sid}"

    busy = client.delete(url, headers=dave.headers)
    assert_error(busy, 409, "SOURCE_BUSY")
    assert job_id in busy.json()["error"]["message"]
    assert client.get(url, headers=dave.headers).status_code == 200
    assert media.head(video_key) is not None
    assert media.head(export_key) is not None

    with api_db.session() as s:
        s.get(Job, job_id).status = JobStatus.CANCELLED
    assert_error(client.delete(url, headers=register(client, "erin").headers), 403, "FORBIDDEN")
    assert client.delete(url, headers=dave.headers).status_code == 204
    assert_error(client.get(url, headers=dave.headers), 404, "SOURCE_NOT_FOUND")
    assert media.head(video_key) is None
    assert media.head(export_key) is None
    with api_db.session() as s:
        assert CoverRepo(s, ws).clip_ids(sid) == []
