"""Reviewing a job's rendered clips through ``PATCH /api/clips/{id}`` (what the studio's
approve, skip and archive call), and narrowing the list with ``?review=``."""

from __future__ import annotations

import pytest
import requests
from fastapi.testclient import TestClient

from clipray.clips.thumb_render import titled_thumbnails
from clipray.serve.app import create_api
from clipray.storage.keys import object_key
from clipray.storage.orm import Clip, ClipStatus
from tests.apiclient import Account, register, upload
from tests.conftest import cancel_active_jobs

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(api_settings, api_db):
    with TestClient(create_api(api_settings)) as c:
        yield c
    cancel_active_jobs(api_db)


@pytest.fixture(scope="module")
def owner(client) -> Account:
    return register(client, "reviewer")


@pytest.fixture(scope="module")
def job_clips(client, owner, short_talk, api_db) -> tuple[str, list[str]]:
    """A job with three clip rows as the render step writes them (rendering: tests/actors)."""
    src = upload(client, owner, short_talk)
    assert src.status_code == 200, src.text
    sid = src.json()["source_id"]
    job = client.post("/api/jobs", headers=owner.headers, json={"source_id": sid}).json()
    ids = []
    with api_db.session() as s:
        for i in range(3):
            clip = Clip(workspace_id=owner.workspace_id, source_id=sid, job_id=job["id"],
                        moment_id=f"{i}{job['id'][1:]}", status=ClipStatus.RENDERED,
                        start_s=float(i), end_s=i + 5.0, score=0.9 - i / 10, title=f"moment {i}",
                        render_spec={}, spec_hash=f"{i}{job['id']}".ljust(64, "0"))  # fmt: skip
            s.add(clip)
            s.flush()
            ids.append(clip.id)
    return job["id"], ids


def test_a_new_clip_is_pending_review(client, owner, job_clips):
    _, ids = job_clips
    got = client.get(f"/api/clips/{ids[0]}", headers=owner.headers).json()
    assert (got["review"], got["reviewed_at"]) == ("pending_review", None)


def test_approve_skip_archive_and_narrow_the_list(client, owner, job_clips):
    job_id, ids = job_clips
    for clip_id, state in zip(ids, ("approved", "skipped", "archived"), strict=True):
        resp = client.patch(f"/api/clips/{clip_id}", headers=owner.headers,
                            json={"review": state})  # fmt: skip
        assert resp.status_code == 200, resp.text
        assert resp.json()["review"] == state
        assert resp.json()["reviewed_at"] is not None
        assert resp.json()["title"].startswith("moment")  # the other fields are kept
    for clip_id, state in zip(ids, ("approved", "skipped", "archived"), strict=True):
        listed = client.get(f"/api/clips?job_id={job_id}&review={state}",
                            headers=owner.headers).json()  # fmt: skip
        assert [c["id"] for c in listed["data"]] == [clip_id]
    back = client.patch(f"/api/clips/{ids[2]}", headers=owner.headers,
                        json={"review": "pending_review", "title": "kept after all"})  # fmt: skip
    assert (back.json()["review"], back.json()["title"]) == ("pending_review", "kept after all")


def test_an_unknown_review_state_is_422_and_changes_nothing(client, owner, job_clips):
    _, ids = job_clips
    before = client.get(f"/api/clips/{ids[0]}", headers=owner.headers).json()
    resp = client.patch(f"/api/clips/{ids[0]}", headers=owner.headers,
                        json={"review": "published", "title": "never"})  # fmt: skip
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert client.get(f"/api/clips/{ids[0]}", headers=owner.headers).json() == before
    bad = client.get("/api/clips?review=published", headers=owner.headers)
    assert bad.status_code == 422


def test_a_viewer_cannot_review(client, owner, job_clips):
    _, ids = job_clips
    viewer = register(client, "viewer")
    added = client.post(f"/api/workspaces/{owner.workspace_id}/members", headers=owner.headers,
                        json={"email": viewer.email, "role": "viewer"})  # fmt: skip
    assert added.status_code == 201, added.text
    h = {**viewer.headers, "X-Workspace-Id": owner.workspace_id}
    assert client.get(f"/api/clips/{ids[0]}", headers=h).status_code == 200
    resp = client.patch(f"/api/clips/{ids[0]}", headers=h, json={"review": "skipped"})
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["code"].startswith("FORBIDDEN")


def test_the_download_url_is_refused_until_the_clip_has_its_file(client, owner, job_clips):
    _, ids = job_clips
    resp = client.get(f"/api/clips/{ids[0]}/download-url?file=thumbnail", headers=owner.headers)
    assert resp.status_code == 409, resp.text
    assert resp.json()["error"]["code"] == "CLIP_NOT_READY"
    bad = client.get(f"/api/clips/{ids[0]}/download-url?file=secrets", headers=owner.headers)
    assert bad.status_code == 422
    other = register(client, "stranger")
    denied = client.get(f"/api/clips/{ids[0]}/download-url", headers=other.headers)
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "FORBIDDEN")


def test_thumbnail_n_picks_one_of_the_titled_candidates(client, owner, job_clips, short_talk,
                                                        buckets, api_db, tmp_path):  # fmt: skip
    """Three titled candidates stored as the render step stores them: ``n`` picks each, an
    older clip with only ``thumbnail.jpg`` has no ``n=1``, a delete takes all three."""
    _, ids = job_clips
    paths = titled_thumbnails("ffmpeg", short_talk, 16.0, "moment 1", (), tmp_path)
    assert len({p.read_bytes() for p in paths}) == 3
    store = buckets.generated.scoped(owner.workspace_id)
    keys = [object_key(owner.workspace_id, "clips", ids[1], p.name) for p in paths]
    for key, path in zip(keys, paths, strict=True):
        store.put_file(key, path, content_type="image/jpeg")
    older = object_key(owner.workspace_id, "clips", ids[2], "thumbnail.jpg")
    store.put_file(older, paths[0], content_type="image/jpeg")
    with api_db.session() as s:
        s.get(Clip, ids[1]).thumbnail_key = keys[0]
        s.get(Clip, ids[2]).thumbnail_key = older
    url = f"/api/clips/{ids[1]}/download-url?file=thumbnail"
    for n, path in enumerate(paths):
        got = client.get(f"{url}&n={n}", headers=owner.headers)
        assert got.status_code == 200, got.text
        body = requests.get(got.json()["url"], timeout=30).content
        assert body == path.read_bytes(), f"n={n} gave another file"
    plain = client.get(url, headers=owner.headers).json()["url"]
    assert requests.get(plain, timeout=30).content == paths[0].read_bytes()
    moved = client.get(f"/api/clips/{ids[1]}/download?file=thumbnail&n=2", headers=owner.headers,
                       follow_redirects=False)  # fmt: skip
    assert moved.status_code == 302
    assert "thumbnail-2.jpg" in moved.headers["location"]
    for bad in ("n=3", "n=-1", "n=one"):
        assert_error(client.get(f"{url}&{bad}", headers=owner.headers), 422, "VALIDATION_ERROR")
    assert_error(client.get(f"/api/clips/{ids[1]}/download-url?file=video&n=1",
                            headers=owner.headers), 422, "THUMBNAIL_N_INVALID")  # fmt: skip
    old_url = f"/api/clips/{ids[2]}/download-url?file=thumbnail"
    assert client.get(f"{old_url}&n=0", headers=owner.headers).status_code == 200
    assert_error(client.get(f"{old_url}&n=1", headers=owner.headers), 404, "THUMBNAIL_NOT_FOUND")
    spec = client.get("/openapi.json").json()["paths"]["/api/clips/{clip_id}/download"]["get"]
    n_param = next(p for p in spec["parameters"] if p["name"] == "n")
    assert "thumbnail" in n_param["description"]
    deleted = client.post("/api/clips/delete", headers=owner.headers, json={"ids": [ids[1]]})
    assert deleted.status_code == 200, deleted.text
    assert [store.head(k) for k in keys] == [None, None, None]


def assert_error(resp, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code
