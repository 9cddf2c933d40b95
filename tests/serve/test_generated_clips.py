"""Generated clips over HTTP (plain FastAPI app, real SQLite and S3): the list with days
left, watch, its URL as JSON and download followed to the clip's bytes, keep, and the
401/403/404 cases."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from fastapi.testclient import TestClient

from clipray.serve.app import create_api
from clipray.storage.keys import object_key
from clipray.storage.objects import open_buckets
from clipray.storage.orm import GeneratedClip, GeneratedStatus, new_id, utcnow
from tests.apiclient import Account, register
from tests.serve.test_api import assert_error

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40


@pytest.fixture(scope="module")
def store(api_settings, s3_server):
    return open_buckets(s3_server, api_settings).generated


@pytest.fixture(scope="module")
def alice(client) -> Account:
    return register(client, "gen-alice")


def make(api_db, store, acct: Account, status: str = "available", life: timedelta | None
         = timedelta(days=7)) -> str:  # fmt: skip
    cand = new_id()
    key = object_key(acct.workspace_id, "clips", cand, "clip.mp4")
    store.scoped(acct.workspace_id).put_bytes(key, VIDEO, "video/mp4")
    with api_db.session() as s:
        row = GeneratedClip(workspace_id=acct.workspace_id, candidate_id=cand, storage_key=key,
                            size_bytes=len(VIDEO), duration_s=12.0, title="Why it matters",
                            status=GeneratedStatus(status),
                            expires_at=utcnow() + life if life else None)  # fmt: skip
        s.add(row)
        s.flush()
        return row.id


def test_list_shows_days_left_and_hides_purged(client, alice, api_db, store):
    fresh = make(api_db, store, alice)
    purged = make(api_db, store, alice, "purged", None)
    page = client.get("/api/generated-clips", headers=alice.headers).json()
    ids = [g["id"] for g in page["data"]]
    assert fresh in ids
    assert purged not in ids
    row = next(g for g in page["data"] if g["id"] == fresh)
    assert 6.9 < row["expires_in_days"] <= 7.0
    assert (row["status"], row["kind"], row["size_bytes"]) == ("available", "heuristic",
                                                                len(VIDEO))  # fmt: skip
    only = client.get("/api/generated-clips?status=purged", headers=alice.headers).json()
    assert [g["id"] for g in only["data"]] == [purged]


@pytest.mark.parametrize("action", ["watch", "download", "watch-url"])
def test_watch_and_download_redirect_to_the_clips_bytes(client, alice, api_db, store, action):
    gid = make(api_db, store, alice)
    resp = client.get(f"/api/generated-clips/{gid}/{action}", headers=alice.headers,
                      follow_redirects=False)  # fmt: skip
    if action == "watch-url":  # what a <video> plays: the URL /watch redirects to, as JSON
        assert resp.status_code == 200, resp.text
        assert resp.json()["file"] == "video"
        location = resp.json()["url"]
    else:
        assert resp.status_code == 302
        location = resp.headers["location"]
    got = requests.get(location, timeout=30)
    assert got.status_code == 200
    assert got.content == VIDEO
    disposition = got.headers.get("content-disposition", "")
    if action == "download":
        assert "attachment" in disposition
        assert "Why it matters.mp4" in disposition
    else:
        assert "attachment" not in disposition


def test_keep_stops_the_clock(client, alice, api_db, store):
    gid = make(api_db, store, alice)
    kept = client.post(f"/api/generated-clips/{gid}/keep", headers=alice.headers)
    assert kept.status_code == 200, kept.text
    body = kept.json()
    assert (body["status"], body["expires_at"], body["expires_in_days"]) == ("kept", None, None)
    assert body["kept_at"] is not None


def test_guests_other_workspaces_and_gone_clips(client, alice, api_db, store):
    gid = make(api_db, store, alice)
    purged = make(api_db, store, alice, "purged", None)
    expired = make(api_db, store, alice, "available", timedelta(seconds=-5))  # not swept yet
    for path in ("", "/watch", "/download", "/watch-url"):
        assert_error(client.get(f"/api/generated-clips/{gid}{path}", follow_redirects=False),
                     401, "UNAUTHORIZED")  # fmt: skip
    assert_error(client.get("/api/generated-clips"), 401, "UNAUTHORIZED")
    bob = register(client, "gen-bob")
    for path in ("", "/watch", "/download", "/watch-url"):
        assert_error(client.get(f"/api/generated-clips/{gid}{path}", headers=bob.headers,
                                follow_redirects=False), 403, "FORBIDDEN")  # fmt: skip
    assert_error(client.post(f"/api/generated-clips/{gid}/keep", headers=bob.headers), 403,
                 "FORBIDDEN")  # fmt: skip
    assert gid not in [g["id"] for g in client.get("/api/generated-clips",
                                                   headers=bob.headers).json()["data"]]  # fmt: skip
    for gone in (purged, expired, "f" * 32):
        for path in ("", "/watch", "/download", "/watch-url"):
            resp = client.get(f"/api/generated-clips/{gone}{path}", headers=alice.headers,
                              follow_redirects=False)  # fmt: skip
            assert_error(resp, 404, "GENERATED_CLIP_NOT_FOUND")
        assert_error(client.post(f"/api/generated-clips/{gone}/keep", headers=alice.headers),
                     404, "GENERATED_CLIP_NOT_FOUND")  # fmt: skip


def test_without_the_app_owned_bucket_the_links_are_503_and_the_records_stay(
    api_settings, api_db, store, alice
):
    """A replica configured without ``CLIPRAY_GENERATED_BUCKET`` still lists and keeps the
    clips (they are rows), but cannot link to their bytes: 503 with its code, not a 500."""
    made = make(api_db, store, alice)
    bare = api_settings.model_copy(update={"generated_bucket": None})
    with TestClient(create_api(bare)) as c:
        for action in ("watch", "download", "watch-url"):
            resp = c.get(f"/api/generated-clips/{made}/{action}", headers=alice.headers,
                         follow_redirects=False)  # fmt: skip
            assert_error(resp, 503, "GENERATED_STORAGE_UNAVAILABLE")
        assert c.get(f"/api/generated-clips/{made}", headers=alice.headers).status_code == 200
        kept = c.post(f"/api/generated-clips/{made}/keep", headers=alice.headers)
        assert kept.status_code == 200, kept.text
        assert kept.json()["status"] == "kept"
